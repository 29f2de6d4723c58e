import CaseStore

/// CaseStore's detection box, named apart from MTACNN's `Detection` (this file imports only
/// CaseStore, so the name resolves to the store's type).
typealias StoreDetection = Detection
