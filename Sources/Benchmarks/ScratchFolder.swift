import FileSafety
import Foundation

/// Where a benchmark builds its throwaway workspaces: a fresh folder of its own (`mkdtemp`,
/// mode 0700) inside the work directory (`/tmp` by default), never a predictable name. Another
/// user could make a predictable name first, and a benchmark that deleted what it found there,
/// or built inside it, would work in a folder where that user can plant the links SQLite
/// follows. Only the folder this made is removed.
enum ScratchFolder {
  static func make(in workDirectory: String, for benchmark: String) throws -> String {
    do {
      return try SafeFile.createTemporaryDirectory(in: workDirectory, base: benchmark)
    } catch {
      throw BenchmarkScratchError(
        description: "cannot make a scratch folder in \(workDirectory): \(error.why)")
    }
  }

  /// Writes a new file in a scratch folder (created exclusively, never through a link).
  static func write(_ bytes: [UInt8], to path: String) throws {
    do { try SafeFile.createNew(bytes, at: path) } catch {
      throw BenchmarkScratchError(description: error.description)
    }
  }

  static func remove(_ folder: String) {
    try? FileManager.default.removeItem(atPath: folder)
  }
}

struct BenchmarkScratchError: Error, CustomStringConvertible {
  let description: String
}
