import Foundation

/// A recursive directory walk that cannot hang: it follows symbolic links to directories
/// but remembers each directory by (device, inode), so a link loop is reported once and
/// skipped; unreadable directories are reported and skipped; hidden entries (`.name`) are
/// left out. File paths are kept as walked (not resolved), so stored paths stay the ones
/// the user knows.
struct FileWalk {
  private(set) var files: [String] = []
  private(set) var problems: [ImportIssue] = []
  /// Entries whose names are not valid UTF-8: they cannot be stored or shown as they are, so
  /// they are refused by name (bad bytes as `\xNN`) rather than dropped.
  private(set) var refused: [ImportIssue] = []
  private var visited: Set<DirID> = []

  private struct DirID: Hashable {
    let dev: UInt64
    let ino: UInt64
  }

  mutating func walk(_ root: String) {
    var st = stat()
    guard stat(root, &st) == 0 else {
      problems.append(ImportIssue(path: root, reason: String(cString: strerror(errno))))
      return
    }
    visit(root, st)
  }

  private mutating func visit(_ dir: String, _ st: stat) {
    guard visited.insert(DirID(dev: UInt64(st.st_dev), ino: UInt64(st.st_ino))).inserted else {
      problems.append(
        ImportIssue(path: dir, reason: "symbolic link loop (directory already visited); not followed"))
      return
    }
    guard let d = opendir(dir) else {
      problems.append(
        ImportIssue(path: dir, reason: "cannot read directory (\(String(cString: strerror(errno))))"))
      return
    }
    var names: [String] = []
    while let entry = readdir(d) {
      let bytes: [UInt8] = withUnsafePointer(to: entry.pointee.d_name) {
        $0.withMemoryRebound(to: UInt8.self, capacity: 256) { p in
          Array(
            UnsafeBufferPointer(
              start: p, count: strlen(UnsafeRawPointer(p).assumingMemoryBound(to: CChar.self))))
        }
      }
      if bytes.first == UInt8(ascii: ".") { continue }
      let name = String(decoding: bytes, as: UTF8.self)
      guard Array(name.utf8) == bytes else {  // decoding replaced invalid bytes
        let shown = bytes.map {
          $0 < 0x80 && $0 >= 0x20 ? String(UnicodeScalar($0)) : String(format: "\\x%02X", $0)
        }
        .joined()
        refused.append(
          ImportIssue(
            path: (dir == "/" ? "/" : dir + "/") + shown,
            reason: "file name is not valid UTF-8; rename it to import it"))
        continue
      }
      names.append(name)
    }
    closedir(d)
    for name in names.sorted() {
      let path = dir == "/" ? "/" + name : dir + "/" + name
      var est = stat()
      guard stat(path, &est) == 0 else {
        var lst = stat()
        if lstat(path, &lst) == 0 && (lst.st_mode & S_IFMT) == S_IFLNK {
          problems.append(ImportIssue(path: path, reason: "broken symbolic link"))
        } else {
          problems.append(ImportIssue(path: path, reason: String(cString: strerror(errno))))
        }
        continue
      }
      switch est.st_mode & S_IFMT {
      case S_IFDIR: visit(path, est)
      case S_IFREG: files.append(path)
      default: continue  // sockets, FIFOs, devices: never opened
      }
    }
  }

  static func stem(_ path: String) -> String {
    ((path as NSString).lastPathComponent as NSString).deletingPathExtension
  }

  static func hasImageExtension(_ path: String) -> Bool {
    ["png", "jpg", "jpeg", "bmp", "jpe", "jfif"].contains((path as NSString).pathExtension.lowercased())
  }

  /// Reads a whole regular file (images are small; the 1 GiB cap keeps a mistaken huge file
  /// from exhausting memory).
  static func readFile(_ path: String, maxBytes: Int = 1 << 30) -> Result<[UInt8], ImportIssue> {
    // O_NONBLOCK: a FIFO (one swapped in after the walk looked) must not hang the open.
    let fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
    guard fd >= 0 else {
      return .failure(ImportIssue(path: path, reason: "cannot be read (\(String(cString: strerror(errno))))"))
    }
    defer { close(fd) }
    var st = stat()
    guard fstat(fd, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else {
      return .failure(ImportIssue(path: path, reason: "not a regular file"))
    }
    guard Int(st.st_size) <= maxBytes else {
      return .failure(
        ImportIssue(path: path, reason: "file is \(st.st_size) bytes, above the \(maxBytes)-byte limit"))
    }
    var out = [UInt8](repeating: 0, count: Int(st.st_size))
    var off = 0
    while off < out.count {
      let n = out.withUnsafeMutableBytes { read(fd, $0.baseAddress! + off, $0.count - off) }
      if n < 0 {
        if errno == EINTR { continue }
        return .failure(ImportIssue(path: path, reason: "read failed (\(String(cString: strerror(errno))))"))
      }
      if n == 0 { break }
      off += n
    }
    if off < out.count { out.removeLast(out.count - off) }
    return .success(out)
  }
}

/// RFC 4180 CSV: quoted fields with doubled quotes, commas and newlines inside quotes,
/// CRLF or LF line ends, a UTF-8 byte-order mark ignored.
enum CSV {
  static func parse(_ text: String) -> [[String]] { parseLines(text).map(\.fields) }

  /// Rows with the physical line number (1-based) each starts on, for error messages.
  static func parseLines(_ text: String) -> [(line: Int, fields: [String])] {
    var rows: [(line: Int, fields: [String])] = []
    var line = 1
    var rowStart = 1
    var row: [String] = []
    var field = ""
    var inQuotes = false
    var chars = Array(text.unicodeScalars)
    if chars.first == "\u{FEFF}" { chars.removeFirst() }
    var i = 0
    while i < chars.count {
      let c = chars[i]
      if inQuotes {
        if c == "\"" {
          if i + 1 < chars.count && chars[i + 1] == "\"" {
            field.unicodeScalars.append("\"")
            i += 1
          } else {
            inQuotes = false
          }
        } else {
          if c == "\n" { line += 1 }
          field.unicodeScalars.append(c)
        }
      } else {
        switch c {
        case "\"": inQuotes = true
        case ",":
          row.append(field)
          field = ""
        case "\r": break
        case "\n":
          row.append(field)
          rows.append((rowStart, row))
          row = []
          field = ""
          line += 1
          rowStart = line
        default: field.unicodeScalars.append(c)
        }
      }
      i += 1
    }
    if !field.isEmpty || !row.isEmpty {
      row.append(field)
      rows.append((rowStart, row))
    }
    return rows
  }

  /// One field as BlastView writes it: quoted when it needs it, and neutralised when a
  /// spreadsheet would read it as a formula (`ExportText.csvCell`).
  static func field(_ s: String) -> String { ExportText.csvCell(s) }
}
