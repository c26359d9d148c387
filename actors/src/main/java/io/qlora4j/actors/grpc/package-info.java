/**
 * The qlora4j.v1 dataset service over grpc-java: the server behind {@code serve-data}
 * ({@link io.qlora4j.actors.grpc.DatasetServer} over a {@link io.qlora4j.actors.grpc.DatasetCatalog}) and the client a
 * trainer streams from ({@link io.qlora4j.actors.grpc.GrpcExampleSource}, {@link io.qlora4j.actors.grpc.DatasetClient}).
 * Wire types (generated from {@code dataset.proto}) appear only in the adapter classes {@code DatasetServiceAdapter},
 * {@code ExampleStreamCall}, {@code ExampleStreamStage}, {@code DatasetClient} and {@code Wire}; everything public speaks
 * domain types. Flow control is end to end: the client requests records only as its consumer pulls, and the server
 * produces only while its call is ready.
 */
package io.qlora4j.actors.grpc;
