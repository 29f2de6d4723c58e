/// What `blastview --version` says besides the version number. The commit is "unknown" in the
/// repository (so `swift build` works from a tarball); `tools/build-release.sh`, which
/// `make release` and `make install` run, writes the commit here for its build and puts
/// "unknown" back afterwards.
enum BuildInfo {
  static let commit = "unknown"
}
