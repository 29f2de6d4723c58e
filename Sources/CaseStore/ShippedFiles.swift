import Foundation

/// Where the files BlastView ships (the trained models in `Models/`, the themes in `Themes/`)
/// are found, in order:
/// 1. `$BLASTVIEW_SHARE` (a directory holding `Models/` and `Themes/`), if set;
/// 2. `../share/blastview` beside the running executable (what `make install` lays out:
///    `$PREFIX/bin/blastview` and `$PREFIX/share/blastview/{Models,Themes}`);
/// 3. the source tree the executable was built in (`.build/<triple>/<config>/blastview` →
///    the checkout's root, up to six levels up).
/// The executable is found through `/proc/self/exe` (a command run from `$PATH` has a bare
/// name in `argv[0]`), else `argv[0]`; symbolic links are resolved, so a link in
/// `/usr/local/bin` to an installed binary still finds the prefix's files.
public enum ShippedFiles {
  /// The running executable's path, symbolic links resolved.
  public static func executablePath() -> String {
    if let target = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
      return URL(fileURLWithPath: target).resolvingSymlinksInPath().path
    }
    return URL(fileURLWithPath: CommandLine.arguments.first ?? ".").resolvingSymlinksInPath().path
  }

  /// The directories searched, in order (some may not exist).
  public static func roots(
    executable: String = executablePath(),
    environment: [String: String] = ProcessInfo.processInfo.environment
  ) -> [String] {
    var out: [String] = []
    if let share = environment["BLASTVIEW_SHARE"], !share.isEmpty { out.append(share) }
    var dir = URL(fileURLWithPath: executable).deletingLastPathComponent()
    out.append(dir.appendingPathComponent("../share/blastview").standardized.path)
    for _ in 0..<6 {
      dir = dir.deletingLastPathComponent()
      out.append(dir.path)
    }
    return out
  }

  /// The shipped model for label schema `schema` ("all4", "wbc5"): `Models/<schema>.safetensors`
  /// in the first root that has it; nil when none has.
  public static func model(
    forSchema schema: String, executable: String = executablePath(),
    environment: [String: String] = ProcessInfo.processInfo.environment
  ) -> String? {
    guard !schema.isEmpty, schema.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" }) else {
      return nil
    }
    for root in roots(executable: executable, environment: environment) {
      let path = (root as NSString).appendingPathComponent("Models/\(schema).safetensors")
      if FileManager.default.isReadableFile(atPath: path) { return path }
    }
    return nil
  }
}
