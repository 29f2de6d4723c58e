/// Minimum-cost one-to-one assignment (the Hungarian method, Kuhn 1955 / Munkres 1957, in
/// the O(n² m) shortest-augmenting-path form with row and column potentials), for AJI+.
///
/// - Parameters:
///   - cost: row-major `rows × cols` costs, finite.
/// - Returns: for each row, the column assigned to it, or nil when rows > cols and the row
///   was left out. Every column is used at most once; the total cost is minimal.
public func linearAssignment(cost: [Double], rows: Int, cols: Int) -> [Int?] {
  precondition(cost.count == rows * cols && cost.allSatisfy(\.isFinite))
  if rows == 0 || cols == 0 { return [Int?](repeating: nil, count: rows) }
  if rows > cols {
    // Solve the transpose (fewer rows than columns), then invert the assignment.
    var t = [Double](repeating: 0, count: rows * cols)
    for i in 0..<rows { for j in 0..<cols { t[j * rows + i] = cost[i * cols + j] } }
    let colToRow = linearAssignment(cost: t, rows: cols, cols: rows)
    var out = [Int?](repeating: nil, count: rows)
    for (j, i) in colToRow.enumerated() { if let i { out[i] = j } }
    return out
  }
  let n = rows
  let m = cols
  // 1-based potentials; owner[j] = row (1-based) holding column j, 0 = free.
  var u = [Double](repeating: 0, count: n + 1)
  var v = [Double](repeating: 0, count: m + 1)
  var owner = [Int](repeating: 0, count: m + 1)
  var way = [Int](repeating: 0, count: m + 1)
  var minv = [Double](repeating: 0, count: m + 1)
  var used = [Bool](repeating: false, count: m + 1)
  for i in 1...n {
    owner[0] = i
    var j0 = 0
    for j in 0...m {
      minv[j] = .infinity
      used[j] = false
    }
    // Grow a shortest-path tree from row i until it reaches a free column.
    repeat {
      used[j0] = true
      let i0 = owner[j0]
      var delta = Double.infinity
      var j1 = 0
      for j in 1...m where !used[j] {
        let reduced = cost[(i0 - 1) * m + (j - 1)] - u[i0] - v[j]
        if reduced < minv[j] {
          minv[j] = reduced
          way[j] = j0
        }
        if minv[j] < delta {
          delta = minv[j]
          j1 = j
        }
      }
      for j in 0...m {
        if used[j] {
          u[owner[j]] += delta
          v[j] -= delta
        } else {
          minv[j] -= delta
        }
      }
      j0 = j1
    } while owner[j0] != 0
    // Augment along the path back to the root.
    repeat {
      let j1 = way[j0]
      owner[j0] = owner[j1]
      j0 = j1
    } while j0 != 0
  }
  var out = [Int?](repeating: nil, count: n)
  for j in 1...m where owner[j] != 0 { out[owner[j] - 1] = j - 1 }
  return out
}
