package kongplugin

// KafkaEmitter is the binary's emitter factory, for tests that build edges the way the
// steller-edge binary does.
var KafkaEmitter = kafkaEmitter
