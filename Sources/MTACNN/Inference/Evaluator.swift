import Agreement
import Foundation
import Imaging
import NeuralEngine

/// One image to score: the decoded original (shifts and preprocessing are applied per run), its
/// reference class and its truth nucleus mask at the source size.
public struct EvaluationItem: Sendable {
  public var image: RGBImage
  public var classIndex: Int?
  public var mask: Mask?
  public var name: String
}

/// What one evaluation pass produced, before it becomes a report.
public struct EvaluationRun: Sendable {
  /// Probabilities and truth of the labelled images (the classification metrics' input).
  public var probabilities: [[Double]] = []
  public var truth: [Int] = []
  /// Overlap of predicted and truth masks per masked image (source resolution).
  public var overlaps: [PixelOverlap] = []
  public var detection = DetectionScore()
  /// Share of images the colour reference flags as unlike the training data (0 without one).
  public var colourFlagged = 0.0

  public var segmentation: SegmentationReport? {
    overlaps.isEmpty ? nil : SegmentationReport(overlaps: overlaps, detection: detection)
  }
}

/// Scoring a model on images (issue 4's `eval`, issue 10's colour shifts, the scale-bar ablation).
/// Everything is computed at the source images' resolution: nucleus masks and detections as a
/// user sees them, detection F1 against the truth mask's 8-connected components of at least
/// `minimumTruthArea` pixels at IoU > 0.5.
public enum Evaluator {
  /// Decodes dataset items (in parallel, in order) keeping the originals; unreadable images are
  /// skipped and returned. `withLabels` false: masks only.
  public static func load(_ items: [DatasetItem], maskKind: MaskKind?, withLabels: Bool = true)
    -> (items: [EvaluationItem], skipped: [SkippedFile])
  {
    var slots = [Result<EvaluationItem, SkippedFile>?](repeating: nil, count: items.count)
    let rule = maskKind?.rule ?? .expert
    slots.withUnsafeMutableBufferPointer { out in
      let base = out.baseAddress!
      let workers = max(1, min(Threads.count, items.count))
      parallelFor(workers) { w in
        var i = w
        while i < items.count {
          let it = items[i]
          do {
            let image = try decodeImage(at: it.path)
            var mask: Mask? = nil
            if let mp = it.maskPath {
              switch rule {
              case .weak: mask = (try? decodeImage(at: mp)).flatMap { rule.nucleusMask(fromImage: $0) }
              case .expert: mask = (try? decodeMask(at: mp)).flatMap { rule.nucleusMask(fromMask: $0) }
              }
              if let m = mask, m.width != image.width || m.height != image.height {
                mask = m.resized(width: image.width, height: image.height)
              }
            }
            base[i] = .success(
              EvaluationItem(
                image: image, classIndex: withLabels ? it.classIndex : nil, mask: mask, name: it.relativePath)
            )
          } catch {
            base[i] = .failure(SkippedFile(path: it.path, reason: String(describing: error)))
          }
          i += workers
        }
      }
    }
    var ok: [EvaluationItem] = []
    var skipped: [SkippedFile] = []
    for s in slots {
      switch s {
      case .success(let e): ok.append(e)
      case .failure(let f): skipped.append(f)
      case nil: break
      }
    }
    return (ok, skipped)
  }

  /// Runs the predictor over the items with a colour shift and preprocessing (default: the
  /// model's own).
  public static func run(
    _ predictor: Predictor, items: [EvaluationItem], shift: ColourShift = .none,
    preprocessing: Preprocessing? = nil,
    minimumTruthArea: Int = 20, progress: ((Int, Int) -> Void)? = nil
  ) -> EvaluationRun {
    let preds = predictor.predict(
      items.map(\.image), shift: shift, preprocessing: preprocessing, progress: progress)
    var r = EvaluationRun()
    let flagged = preds.filter { $0.colourUnusual == true }.count
    r.colourFlagged = preds.isEmpty ? 0 : Double(flagged) / Double(preds.count)
    for (it, p) in zip(items, preds) {
      if let y = it.classIndex, let probs = p.probabilities {
        r.probabilities.append(probs)
        r.truth.append(y)
      }
      if let tm = it.mask, let pm = p.nucleusMask {
        r.overlaps.append(PixelOverlap(truth: tm, predicted: pm))
        let truth = NucleusDetector.objects(in: tm, minimumArea: minimumTruthArea)
        r.detection = r.detection + DetectionScore(detections: p.detections, truth: truth)
      }
    }
    return r
  }
}
