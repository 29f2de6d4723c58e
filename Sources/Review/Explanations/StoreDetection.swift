import CaseStore

/// CaseStore's stored nucleus box, named apart from MTACNN's `Detection` (files that import both
/// modules see two `Detection`s, and the module `CaseStore` is shadowed by its class of that name).
typealias StoreDetection = Detection
