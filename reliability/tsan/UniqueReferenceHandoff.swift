// Shows that ThreadSanitizer reports Swift's unique-ownership idiom as a data race: a reader
// thread reads a field and drops its reference; the owner waits until isKnownUniquelyReferenced
// says it holds the object alone, then writes the field. The release and the check are atomics
// inside libswiftCore, which is not instrumented, so TSan sees no happens-before between the read
// and the write. This is what NIO's pooled receive buffers do (reliability/tsan/suppressions.txt).
//
//   swiftc -sanitize=thread -g reliability/tsan/UniqueReferenceHandoff.swift -o /tmp/handoff
//   /tmp/handoff          # one "WARNING: ThreadSanitizer: data race": the write at line 34, the read in the closure
//
// Not part of the package: it is compiled on its own, by hand.

import Foundation

/// A class like NIO's ByteBuffer._Storage: a field only its unique owner writes.
final class Storage: @unchecked Sendable {
    var capacity = 64
}

/// How the reference reaches the reader thread.
final class Handoff: @unchecked Sendable {
    var reference: Storage?
}

var owner = Storage()
let handoff = Handoff()
handoff.reference = owner
let reader = Thread {
    let read = handoff.reference!.capacity  // the reader's last use
    handoff.reference = nil  // its release: an atomic decrement inside libswiftCore
    _ = read
}
reader.start()
while !isKnownUniquelyReferenced(&owner) { sched_yield() }  // an atomic load inside libswiftCore
owner.capacity = 128  // the write only a unique owner may make
Thread.sleep(forTimeInterval: 0.2)
print("capacity", owner.capacity)
