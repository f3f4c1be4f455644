// SwiftPM wants a source file in a C target; the target only exports libfuzzer.h.
