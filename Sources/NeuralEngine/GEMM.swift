import COpenBLAS

/// C = alpha * op(A) * op(B) + beta * C, row-major, single-threaded OpenBLAS (the engine splits
/// work across threads itself; see `Threads`).
@inline(__always)
public func sgemm(
  transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float = 1,
  a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int, beta: Float = 0,
  c: UnsafeMutablePointer<Float>, ldc: Int
) {
  if m == 0 || n == 0 { return }
  if k == 0 {
    if beta == 0 {
      for i in 0..<m { (c + i * ldc).update(repeating: 0, count: n) }
    } else if beta != 1 {
      for i in 0..<m { for j in 0..<n { c[i * ldc + j] *= beta } }
    }
    return
  }
  cblas_sgemm(
    CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
    Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
}

/// `sgemm` split over the engine's threads along the larger of C's dimensions. Each element of C
/// is still summed by one thread over the whole of K, so the result does not depend on the
/// thread count beyond OpenBLAS's own blocking.
public func parallelSgemm(
  transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float = 1,
  a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int, beta: Float = 0,
  c: UnsafeMutablePointer<Float>, ldc: Int
) {
  // Below ~2 MFLOP per thread the split costs more than it gains.
  if Threads.count == 1 || m * n * k < 1 << 20 {
    sgemm(
      transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b,
      ldb: ldb, beta: beta, c: c, ldc: ldc)
    return
  }
  if m >= n {
    // Split rows of C (and of op(A)). Keep chunks a multiple of 8 rows for the kernels.
    let ranges = chunkRanges((m + 7) / 8, parts: Threads.chunks).map {
      ($0.lowerBound * 8)..<min(m, $0.upperBound * 8)
    }
    parallelFor(ranges.count) { i in
      let r = ranges[i]
      if r.isEmpty { return }
      let aOff = transA ? r.lowerBound : r.lowerBound * lda
      sgemm(
        transA: transA, transB: transB, m: r.count, n: n, k: k, alpha: alpha, a: a + aOff,
        lda: lda, b: b, ldb: ldb, beta: beta, c: c + r.lowerBound * ldc, ldc: ldc)
    }
  } else {
    let ranges = chunkRanges((n + 15) / 16, parts: Threads.chunks).map {
      ($0.lowerBound * 16)..<min(n, $0.upperBound * 16)
    }
    parallelFor(ranges.count) { i in
      let r = ranges[i]
      if r.isEmpty { return }
      let bOff = transB ? r.lowerBound * ldb : r.lowerBound
      sgemm(
        transA: transA, transB: transB, m: m, n: r.count, k: k, alpha: alpha, a: a, lda: lda,
        b: b + bOff, ldb: ldb, beta: beta, c: c + r.lowerBound, ldc: ldc)
    }
  }
}
