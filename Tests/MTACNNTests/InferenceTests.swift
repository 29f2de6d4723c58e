import Agreement
import Foundation
import Imaging
import NeuralEngine
import Testing

@testable import MTACNN

@Suite struct InferenceTests {
  /// The predictor brings the nucleus map to each image's own size and detects nuclei there; a
  /// model that learned the synthetic discs finds one nucleus where the disc is.
  @Test func predictionsComeBackAtTheSourceSizeWithOneNucleusPerDisc() throws {
    let (model, _, _) = try TrainerTests.run(seed: 1, epochs: 12)
    let p = Predictor(model: model)
    // Draw a disc on a larger image (the predictor resizes to S and back).
    let w = 80
    let h = 64
    var im = RGBImage(width: w, height: h, fill: (215, 195, 205))
    for y in 0..<h {
      for x in 0..<w where (x - 40) * (x - 40) + (y - 32) * (y - 32) < 14 * 14 { im[x, y] = (90, 40, 120) }
    }
    let r = try #require(p.predict([im]).first)
    let mask = try #require(r.nucleusMask)
    #expect(mask.width == w && mask.height == h)
    #expect(r.nucleusProbability?.count == w * h)
    #expect(r.probabilities?.count == 4)
    #expect(abs((r.probabilities ?? []).reduce(0, +) - 1) < 1e-6)
    #expect(r.pMalignant.map { abs($0 - (1 - r.probabilities![0])) < 1e-12 } == true)
    let truth = Mask(
      width: w, height: h,
      values: (0..<(w * h)).map { i in
        let x = i % w
        let y = i / w
        return (x - 40) * (x - 40) + (y - 32) * (y - 32) < 14 * 14 ? 255 : 0
      })
    #expect(PixelOverlap(truth: truth, predicted: mask).scoredDice > 0.7)
    #expect(r.detections.count == 1)
    if let d = r.detections.first {
      #expect(boxIoU(d.box, PixelRect(x: 26, y: 18, width: 29, height: 29)) > 0.5)
    }
  }

  @Test func bilinearResizeKeepsConstantsAndCorners() {
    let v: [Float] = [0, 1, 2, 3]
    let up = resizeBilinear(v, width: 2, height: 2, toWidth: 4, toHeight: 4)
    #expect(up[0] == 0 && up[15] == 3)
    // Half-pixel centres: output pixel 1 sits at source x = 0.25.
    #expect(abs(up[1] - 0.25) < 1e-6)
    #expect(
      resizeBilinear([Float](repeating: 0.7, count: 9), width: 3, height: 3, toWidth: 5, toHeight: 7)
        .allSatisfy {
          abs($0 - 0.7) < 1e-6
        })
  }

  /// Evaluation scores classification and masks at the source resolution, and a colour shift is
  /// the one `ColourShift` defines (the same function `eval` and `audit` call).
  @Test func evaluationRunScoresLabelsMasksAndShifts() throws {
    let (model, _, _) = try TrainerTests.run(seed: 1, epochs: 12)
    let ex = FreezingTests.examples(20, seed: 31)
    let items = ex.map {
      EvaluationItem(image: $0.image, classIndex: $0.classIndex, mask: $0.mask, name: $0.name)
    }
    let p = Predictor(model: model)
    let clean = Evaluator.run(p, items: items)
    #expect(clean.truth == ex.map { $0.classIndex! })
    #expect(clean.overlaps.count == 20)
    #expect(clean.segmentation!.dice > 0.6)
    let gray = Evaluator.run(p, items: items, shift: .gray)
    // The shifted run saw the shifted images: its predictions equal predicting gray copies.
    let direct = p.predict(items.map { ColourShift.gray.apply(to: $0.image) })
    #expect(gray.probabilities == direct.map { $0.probabilities! })
    #expect(gray.probabilities != clean.probabilities)
  }
}

@Suite struct ColourReferenceTests {
  /// Issue 10's warning travels with the model: fitted at training time, written to the
  /// checkpoint's metadata, read back, and used by the predictor. Images like the training ones
  /// are not flagged; the same images rotated 90° in hue or made gray are.
  @Test func checkpointCarriesTheWarningAndThePredictorUsesIt() throws {
    // The warning does not depend on the weights: an untrained classifier will do.
    let model = try MTACNNModel(configuration: FreezingTests.configuration(tasks: [.cls], from: [:]), seed: 1)
    func withColour(_ e: [Example]) -> [Example] {
      e.map {
        var x = $0
        x.colour = ColourStatistics(x.image, excluding: model.configuration.preprocessing.cornerBlank)
        return x
      }
    }
    let all = withColour(FreezingTests.examples(400, seed: 7))
    let train = all.filter { $0.part == .train }
    let val = all.filter { $0.part == .val }
    let reference = try #require(ColourReference.fit(train: train, validation: val))
    let file = FileManager.default.temporaryDirectory.appendingPathComponent(
      "colourref-\(UUID()).safetensors"
    ).path
    defer { try? FileManager.default.removeItem(atPath: file) }
    try model.save(to: file, colourReference: reference)
    let meta = try ModelCheckpoint.metadata(of: SafeTensorsFile.read(path: file))
    let loaded = try #require(meta.colourReference)
    #expect(loaded.threshold == reference.threshold)
    #expect(loaded.means == reference.means)

    let p = Predictor(model: model, colourReference: loaded)
    // Threshold at the 99th percentile of validation: about 1 % of new training-like images are
    // flagged; 40 of them allow 2 (5 %) for sampling noise.
    let fresh = FreezingTests.examples(40, seed: 99).map(\.image)
    let plain = p.predict(fresh)
    #expect(plain.allSatisfy { $0.colourDistance != nil })
    #expect(plain.filter { $0.colourUnusual == true }.count <= 2)
    let hue = p.predict(fresh, shift: .hue(degrees: 90))
    #expect(hue.allSatisfy { $0.colourUnusual == true })
    let gray = p.predict(fresh, shift: .gray)
    #expect(gray.allSatisfy { $0.colourUnusual == true })
    // Without a reference there is no distance and no warning.
    #expect(
      Predictor(model: model).predict(fresh).allSatisfy {
        $0.colourDistance == nil && $0.colourUnusual == nil
      })
  }

  @Test func aDamagedReferenceIsABadCheckpoint() throws {
    let model = try MTACNNModel(configuration: FreezingTests.configuration(tasks: [.cls], from: [:]), seed: 1)
    let file = FileManager.default.temporaryDirectory.appendingPathComponent(
      "colourref-\(UUID()).safetensors"
    ).path
    defer { try? FileManager.default.removeItem(atPath: file) }
    try model.save(to: file)
    // Rewrite the metadata with a broken reference: the header is JSON at the file's start.
    var data = try Data(contentsOf: URL(fileURLWithPath: file))
    let n = Int(data.prefix(8).withUnsafeBytes { $0.loadUnaligned(as: UInt64.self).littleEndian })
    var header = try JSONSerialization.jsonObject(with: data.subdata(in: 8..<(8 + n))) as! [String: Any]
    var m = header["__metadata__"] as! [String: String]
    m[ColourReference.metadataKey] = "{\"means\": []}"
    header["__metadata__"] = m
    var h = try JSONSerialization.data(withJSONObject: header)
    while h.count % 8 != 0 { h.append(0x20) }
    var len = UInt64(h.count).littleEndian
    let body = data.subdata(in: (8 + n)..<data.count)
    data = Data(bytes: &len, count: 8) + h + body
    try data.write(to: URL(fileURLWithPath: file))
    #expect {
      _ = try ModelCheckpoint.metadata(of: SafeTensorsFile.read(path: file))
    } throws: { error in
      String(describing: error).contains(file) && String(describing: error).contains("colour_reference")
    }
  }
}
