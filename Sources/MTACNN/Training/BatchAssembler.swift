import Imaging
import NeuralEngine

/// Turns examples into the network's input batch and targets: 8-bit S × S → [0, 1] planes,
/// the seeded augmentation (geometry on image and mask alike, colour on the image), the configured
/// stain normalisation, then copied into one [B, 3, S, S] tensor (and [B, 1, S, S] masks, 0/1).
/// The buffers are allocated once and reused; images are prepared in parallel, each from its own
/// random stream, so a batch is the same for any thread count.
final class BatchAssembler {
  let size: Int
  let augmenter: Augmenter?
  let stain: StainNormalisation?
  /// Issue 17: the weight of an expert mask (a weak one weighs 1) in the targets' `maskWeights`;
  /// nil gives no weights.
  let expertMaskWeight: Float?
  private var images = ReusableBuffer()
  private var masks = ReusableBuffer()

  init(
    size: Int, augmentation: AugmentationConfig?, stain: StainNormalisation?, expertMaskWeight: Float? = nil
  ) {
    self.size = size
    augmenter = augmentation.map(Augmenter.init)
    self.stain = stain
    self.expertMaskWeight = expertMaskWeight
  }

  /// `seeds[b]` seeds image b's augmentation (ignored without augmentation).
  func assemble(_ batch: [Example], seeds: [UInt64] = []) -> (Tensor, BatchTargets) {
    let b = batch.count
    let s = size
    let plane = s * s
    let x = images.tensor([b, 3, s, s])
    let m = masks.tensor([b, 1, s, s])
    let augmenter = self.augmenter
    let stain = self.stain
    parallelFor(b) { i in
      let ex = batch[i]
      precondition(ex.image.width == s && ex.image.height == s, "example \(ex.name) is not \(s)×\(s)")
      var p = PlanarImage(ex.image)
      var mask = ex.mask
      if let augmenter {
        var rng = SplitMix64(seed: i < seeds.count ? seeds[i] : UInt64(i))
        augmenter.apply(&p, mask: &mask, using: &rng)
      }
      stain?.apply(to: &p)
      p.data.withUnsafeBufferPointer { src in
        (x.data + i * 3 * plane).update(from: src.baseAddress!, count: 3 * plane)
      }
      let md = m.data + i * plane
      if let mask {
        for j in 0..<plane { md[j] = mask.values[j] >= 128 ? 1 : 0 }
      } else {
        md.update(repeating: 0, count: plane)
      }
    }
    let weights = expertMaskWeight.map { w in
      batch.map { $0.mask == nil ? 0 : ($0.maskKind == .weak ? 1 : w) }
    }
    let targets = BatchTargets(
      labels: batch.map { $0.classIndex ?? -1 }, masks: m, hasMask: batch.map { $0.mask != nil },
      maskWeights: weights)
    return (x, targets)
  }
}

/// SplitMix64's mixing function: derives independent seeds from (seed, epoch, position).
func mixSeed(_ values: UInt64...) -> UInt64 {
  var h: UInt64 = 0x243F_6A88_85A3_08D3
  for v in values {
    var z = h ^ (v &+ 0x9E37_79B9_7F4A_7C15)
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    h = z ^ (z >> 31)
  }
  return h
}
