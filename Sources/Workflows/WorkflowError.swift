/// A workflow that cannot go on, with a message for the person who started it. The message may
/// quote file names and decoder errors: whoever prints it sanitises it for the terminal.
public struct WorkflowError: Error, Equatable, Sendable, CustomStringConvertible {
  public var message: String

  public init(_ message: String) { self.message = message }

  /// Wraps another module's error, keeping its text.
  public init(_ error: any Error) {
    message = (error as? WorkflowError)?.message ?? String(describing: error)
  }

  public var description: String { message }
}
