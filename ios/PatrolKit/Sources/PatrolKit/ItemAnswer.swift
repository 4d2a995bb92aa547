import Foundation

/// How a checklist item was answered.
public enum ItemAnswer: Equatable {
    /// 正常 / 故障 / 不适用, with a note and photos (a fault may need a photo).
    case mark(Outcome, note: String? = nil, photos: [String] = [])
    /// A meter reading; out of its normal range the engine records a fault.
    case reading(Double, note: String? = nil, photos: [String] = [])
    /// A written answer.
    case text(String, photos: [String] = [])

    /// The answer's note (a written answer is its own note).
    public var note: String? {
        switch self {
        case let .mark(_, note, _), let .reading(_, note, _):
            return note
        case let .text(text, _):
            return text
        }
    }

    /// Photo ids from ``PatrolRepository/addPhoto(_:)``.
    public var photos: [String] {
        switch self {
        case let .mark(_, _, photos), let .reading(_, _, photos), let .text(_, photos):
            return photos
        }
    }
}
