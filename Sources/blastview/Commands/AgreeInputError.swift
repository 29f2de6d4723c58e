import Agreement

/// A problem with an input file or value of `agree` / `agree-masks`, naming it (and the
/// line) and saying what is wrong. Its text is safe for the terminal.
struct AgreeInputError: Error, CustomStringConvertible {
  let message: String

  init(_ file: String, line: Int? = nil, _ what: String) {
    let place = line.map { "\(file) line \($0)" } ?? file
    message = AgreeOutput.safe("\(place): \(what)")
  }

  init(message: String) { self.message = AgreeOutput.safe(message) }

  /// A ratings or weights file Agreement could not read.
  init(_ error: RatingsFileError) { message = AgreeOutput.safe(error.description) }

  var description: String { message }
}
