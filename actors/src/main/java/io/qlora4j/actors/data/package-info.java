/**
 * The data side of the trainer: examples from a local file or a data server, turned into deterministic, resumable,
 * backpressured batches by the {@link io.qlora4j.actors.data.DataStreamer} actor.
 *
 * <p>A trainer sets it up once (blocking, outside actors), then drives it with messages:
 * <pre>{@code
 * var prep = new ExamplePreparation(tokenizer, maxLength, MalformedPolicy.SKIP);
 * ExampleSource source = DatasetUrl.isUrl(data)
 *         ? new GrpcExampleSource(DatasetUrl.parse(data), GrpcClientSettings.defaults(), ReadOptions.DEFAULT, prep)
 *         : LocalExampleSource.open(Path.of(data), ReadOptions.DEFAULT, prep);
 * var config = DataStreamerConfig.train(source, new EvalSplit(0.1, seed), batchSize, seed, DataStreamerConfig.UNLIMITED_EPOCHS, padId);
 * ActorRef<DataStreamer.Command> data = context.spawn(DataStreamer.create(config, checkpoint.dataPosition()), "data");
 * data.tell(new DataStreamer.RequestBatch(replyAdapter));   // BatchReady(batch, resumeFrom) | EpochEnd | DataFailed
 * }</pre>
 * A checkpoint stores the {@code resumeFrom} of the last batch that went into a completed optimizer step (three numbers;
 * not the last batch received: a prefetched batch is simply produced again) with the run seed and the data settings; a
 * streamer created at that position continues with exactly the batch an uninterrupted run would have produced next.
 * Evaluation spawns a streamer with {@link io.qlora4j.actors.data.DataStreamerConfig#eval} for each evaluation.
 */
package io.qlora4j.actors.data;
