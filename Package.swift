// swift-tools-version:6.0
// BlastView: terminal review of acute lymphoblastic leukemia blood-smear images.
// Modules and their one-way dependencies are described in README.md ("Architecture")
// and ../shared/DESIGN.md §2.
import PackageDescription

/// System libraries (DESIGN §2, §8): each is a module map plus a shim header that
/// wraps what Swift 6 cannot import (macros, C globals, setjmp error paths).
let systemLibraries: [Target] = [
  .systemLibrary(
    name: "CNcursesw", path: "Sources/CNcursesw", pkgConfig: "ncursesw",
    providers: [.apt(["libncursesw5-dev"])]),
  .systemLibrary(
    name: "CSixel", path: "Sources/CSixel", pkgConfig: "libsixel",
    providers: [.apt(["libsixel-dev"])]),
  .systemLibrary(
    name: "CPNG", path: "Sources/CPNG", pkgConfig: "libpng",
    providers: [.apt(["libpng-dev"])]),
  .systemLibrary(
    name: "CJPEG", path: "Sources/CJPEG", pkgConfig: "libjpeg",
    providers: [.apt(["libjpeg62-turbo-dev"])]),
  .systemLibrary(
    name: "COpenBLAS", path: "Sources/COpenBLAS", pkgConfig: "openblas",
    providers: [.apt(["libopenblas-dev"])]),
  // PostgreSQL's client library: the shared workspace's store (issue 16).
  .systemLibrary(
    name: "CPQ", path: "Sources/CPQ", pkgConfig: "libpq",
    providers: [.apt(["libpq-dev"])]),
]

/// NeuralEngine is numeric code: it is built optimised even in debug (the test suite runs its
/// forward/backward passes), with bounds checks off in the hot loops and AVX2/FMA code generation
/// on x86-64 (DESIGN §8: the target machines are AVX2/FMA; Haswell, 2013, is the baseline).
var neuralEngineFlags = ["-Ounchecked"]
#if arch(x86_64)
  neuralEngineFlags += ["-target-cpu", "haswell"]
#endif

/// MTA-CNN: the network on the neural engine, training, inference, data, augmentation, metrics,
/// detection.
let mtacnnTargets: [Target] = [
  .target(
    name: "MTACNN",
    dependencies: [
      "Imaging", "NeuralEngine", "Agreement", .product(name: "Crypto", package: "swift-crypto"),
    ]),
  .testTarget(
    name: "MTACNNTests",
    dependencies: ["MTACNN", "Imaging", "NeuralEngine", "Agreement"],
    resources: [.copy("Fixtures")]),
  // train/eval/predict through the real binary.
  .testTarget(
    name: "ModelCommandTests",
    dependencies: ["blastview", "MTACNN", "NeuralEngine", "CaseStore", "FileSafety", "Terminal"]),
  // Retraining jobs (issue 8): Workflows' job, gate and pipeline, and the real binary on a
  // synthetic workspace (found in the build directory).
  .testTarget(
    name: "RetrainingTests",
    dependencies: [
      "Workflows", "MTACNN", "NeuralEngine", "CaseStore", "Imaging", "TestSupport", "FileSafety",
      .product(name: "GRDB", package: "GRDB.swift"),
    ]),
]

let package = Package(
  name: "BlastView",
  platforms: [.macOS(.v13)],
  products: [
    .executable(name: "blastview", targets: ["blastview"])
  ],
  dependencies: [
    .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
    .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
    .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
  ],
  targets: systemLibraries + [
    // libpng/libjpeg calls whose errors longjmp stay in C (see its header for why).
    .target(
      name: "CImageCodecs",
      dependencies: ["CPNG", "CJPEG"],
      linkerSettings: [.linkedLibrary("png16"), .linkedLibrary("jpeg")]),
    .target(
      name: "Imaging",
      dependencies: ["CImageCodecs", "FileSafety"]),
    // Every file BlastView writes or reads by name: no links followed, exclusive temporary
    // names, per-user folders (issue 15). Depends on nothing, so every module can use it.
    .target(
      name: "FileSafety"),
    .testTarget(
      name: "FileSafetyTests",
      dependencies: ["FileSafety"]),
    .target(
      name: "Agreement"),
    .target(
      name: "NeuralEngine",
      dependencies: ["COpenBLAS", "FileSafety"],
      swiftSettings: [.unsafeFlags(neuralEngineFlags)]),
    // DESIGN §4's network exactly as the reference PyTorch definition, built from the engine's
    // layers: what `bench engine --network reference` times against PyTorch and what the
    // engine's parity tests check layer by layer. Not the product model (that is MTACNN's).
    .target(
      name: "ReferenceNetwork",
      dependencies: ["NeuralEngine"],
      swiftSettings: [.unsafeFlags(neuralEngineFlags)]),
    // The code behind `blastview bench`: what each benchmark measures and its same-run baseline.
    .target(
      name: "Benchmarks",
      dependencies: [
        "Agreement", "CaseStore", "FileSafety", "Imaging", "MTACNN", "NeuralEngine", "ReferenceNetwork",
        "Review", "Terminal", "COpenBLAS", .product(name: "GRDB", package: "GRDB.swift"),
      ]),
    .target(
      name: "CTerminalSupport",
      path: "Sources/CTerminalSupport"),
    .target(
      name: "Terminal",
      dependencies: ["CNcursesw", "CSixel", "CTerminalSupport", "Imaging"]),
    .target(
      name: "Review",
      dependencies: ["Terminal", "CaseStore", "Imaging", "Agreement", "Workflows", "MTACNN", "FileSafety"]),
    // The workflows that combine the store, the model and the statistics: training and
    // retraining, the validation gate, filling a workspace's predictions, a session's agreement
    // report, and starting the background `blastview` processes (DESIGN §2).
    .target(
      name: "Workflows",
      dependencies: ["CaseStore", "MTACNN", "Agreement", "Imaging", "NeuralEngine", "FileSafety"]),
    .target(
      name: "CaseStore",
      dependencies: [
        "Imaging", "FileSafety", "CPQ",
        .product(name: "GRDB", package: "GRDB.swift"),
        .product(name: "Crypto", package: "swift-crypto"),
      ]),
    // A tiny writer process for CaseStore's multi-process tests (concurrent raters, SIGKILL).
    .executableTarget(
      name: "casestore-writer",
      dependencies: ["CaseStore"],
      path: "Tests/CaseStoreWriter"),
    .executableTarget(
      name: "blastview",
      dependencies: [
        "Imaging", "Terminal", "Review", "Agreement", "NeuralEngine", "MTACNN", "CaseStore",
        "Workflows", "Benchmarks", "FileSafety",
        "CNcursesw", "CSixel", "CPNG", "CJPEG",
        "COpenBLAS",
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
      ]),
    // Helpers for the end-to-end tests that drive the binary in tmux and xterm.
    .target(
      name: "TestSupport",
      dependencies: ["CaseStore", "Imaging"],
      path: "Tests/TestSupport"),
    .testTarget(
      name: "TerminalTests",
      dependencies: ["Terminal", "Imaging", "TestSupport"]),
    .testTarget(
      name: "ReviewTests",
      dependencies: [
        "Review", "Terminal", "CaseStore", "Imaging", "TestSupport", "Workflows", "Agreement",
        "MTACNN", "FileSafety",
      ]),
    .testTarget(
      name: "ImagingTests",
      dependencies: ["Imaging", "COpenBLAS"],
      // Fixtures are read from the source tree (see FixturePaths.swift), not bundled.
      exclude: ["Fixtures"]),
    // `doctor` and `sampledata` through the built binary.
    .testTarget(
      name: "DoctorCommandTests"),
    .testTarget(
      name: "AgreementTests",
      dependencies: ["Agreement"],
      resources: [.copy("Fixtures")]),
    .testTarget(
      name: "NeuralEngineTests",
      dependencies: ["NeuralEngine", "ReferenceNetwork"],
      resources: [.copy("Fixtures")]),
    .testTarget(
      name: "AgreeCommandTests",
      dependencies: ["blastview", "Agreement", "Imaging"]),
    // Shared workspaces on PostgreSQL (issue 16): the libpq wrapper, the store contract run on
    // both backends, and the identity and blinding tests with real OS users (needs the cluster
    // of tools/with-test-postgres.sh; fails under CI=true without it).
    .testTarget(
      name: "SharedWorkspaceTests",
      dependencies: [
        "CaseStore", "Imaging", "Agreement", "Workflows", "MTACNN", "NeuralEngine", "blastview", "TestSupport",
        "Review", "Terminal", "Benchmarks",
        .product(name: "GRDB", package: "GRDB.swift"),
      ]),
    .testTarget(
      name: "CaseStoreTests",
      dependencies: [
        "CaseStore", "Imaging", "casestore-writer", .product(name: "GRDB", package: "GRDB.swift"),
      ],
      resources: [.copy("Fixtures")]),
  ] + mtacnnTargets
)
