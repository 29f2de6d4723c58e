import NeuralEngine

/// The segmentation column's own full-resolution features (issue 17, configuration `seg_stem`):
/// two conv-BN-ReLU on the input image at S, concatenated after shared stage 1's features as the
/// skip of decoder block 4. In the paper's order (classification first, then segmentation reading
/// it) the shared encoder is frozen with features trained for classification under colour and
/// stain jitter, so the decoder's only full-resolution skip was never trained for nuclei; the stem
/// is trained by the mask loss alone and belongs to the `seg.head` group, so nothing that another
/// task reads depends on it and freezing stays exact. Names follow the reference's
/// `seg.stem.block.{0,1}.{0,1}.*`.
final class SegmentationStem: ModeSwitching {
  let first: ConvBNReLU
  let second: ConvBNReLU
  /// [shared stage 1, stem] along the channels.
  let concat = Concat()

  init(_ store: ParameterStore, channels: Int) {
    let g = ModelTask.seg.headGroup
    first = ConvBNReLU(
      store, convName: "seg.stem.block.0.0", normName: "seg.stem.block.0.1", group: g, inChannels: 3,
      outChannels: channels)
    second = ConvBNReLU(
      store, convName: "seg.stem.block.1.0", normName: "seg.stem.block.1.1", group: g, inChannels: channels,
      outChannels: channels)
  }

  var isTraining: Bool {
    get { first.isTraining }
    set {
      first.isTraining = newValue
      second.isTraining = newValue
    }
  }

  /// Block 4's skip: shared stage 1's pre-pool features `f1` [B, c1, S, S] followed by the stem's
  /// features of `image` [B, 3, S, S].
  func skip(stage1 f1: Tensor, image: Tensor) -> Tensor {
    concat.forward(f1, second.forward(first.forward(image)))
  }

  /// From the gradient of the skip: the part that belongs to shared stage 1, and (when
  /// `wantImage`) the image gradient through the stem. The stem's parameter gradients are added
  /// only when `learns` (a frozen stem is not back-propagated unless the image gradient is wanted).
  func backward(_ dSkip: Tensor, learns: Bool, wantImage: Bool) -> (stage1: Tensor, image: Tensor?) {
    let (dF1, dStem) = concat.backward(dSkip)
    guard learns || wantImage else { return (dF1, nil) }
    let g = second.backward(dStem)
    if wantImage { return (dF1, first.backward(g)) }
    first.backwardParameters(g)
    return (dF1, nil)
  }
}
