import COpenBLAS
import Testing

/// OpenBLAS is linked and computes: one sgemm against a product worked by hand.
@Test func sgemmComputesKnownProduct() {
  // A (2x3) = [1 2 3; 4 5 6], B (3x2) = [7 8; 9 10; 11 12]
  // A*B = [1*7+2*9+3*11, 1*8+2*10+3*12; 4*7+5*9+6*11, 4*8+5*10+6*12] = [58 64; 139 154]
  let a: [Float] = [1, 2, 3, 4, 5, 6]
  let b: [Float] = [7, 8, 9, 10, 11, 12]
  var c = [Float](repeating: -1, count: 4)
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, 2, 2, 3, 1, a, 3, b, 2, 0, &c, 2)
  #expect(c == [58, 64, 139, 154])
}
