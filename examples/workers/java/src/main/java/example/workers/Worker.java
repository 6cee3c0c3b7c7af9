package example.workers;

import io.temporal.client.WorkflowClient;
import io.temporal.client.WorkflowClientOptions;
import io.temporal.common.converter.CodecDataConverter;
import io.temporal.common.converter.DefaultDataConverter;
import io.temporal.serviceclient.WorkflowServiceStubs;
import io.temporal.serviceclient.WorkflowServiceStubsOptions;
import io.temporal.worker.WorkerFactory;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A Temporal worker written with the Java SDK, for the gateway to serve. Configured by the
 * environment, as the other example workers are: TEMPORAL_ADDRESS (localhost:7233),
 * TEMPORAL_NAMESPACE (default), WORKER_TASK_QUEUE (java-workers), and CODEC_KEY_FILE (unset: an
 * AES-256 key, 64 hex characters, to encrypt payloads and failures with {@link AesGcmCodec}).
 */
public final class Worker {
  private Worker() {}

  private static String env(String name, String fallback) {
    String value = System.getenv(name);
    return value == null || value.isEmpty() ? fallback : value;
  }

  public static void main(String[] args) throws InterruptedException, IOException {
    String address = env("TEMPORAL_ADDRESS", "localhost:7233");
    String namespace = env("TEMPORAL_NAMESPACE", "default");
    String taskQueue = env("WORKER_TASK_QUEUE", "java-workers");
    String keyFile = env("CODEC_KEY_FILE", "");
    AesGcmCodec codec = keyFile.isEmpty() ? null : AesGcmCodec.fromKeyFile(Path.of(keyFile));

    WorkflowClientOptions.Builder options =
        WorkflowClientOptions.newBuilder().setNamespace(namespace);
    if (codec != null) {
      // true: failures' messages and stack traces move into an encoded payload too, so Temporal
      // stores "Encoded failure" as the message, as the Go and TypeScript workers do.
      options.setDataConverter(
          new CodecDataConverter(DefaultDataConverter.newDefaultInstance(), List.of(codec), true));
    }
    WorkflowServiceStubs service =
        WorkflowServiceStubs.newServiceStubs(
            WorkflowServiceStubsOptions.newBuilder().setTarget(address).build());
    WorkflowClient client = WorkflowClient.newInstance(service, options.build());
    WorkerFactory factory = WorkerFactory.newInstance(client);
    io.temporal.worker.Worker worker = factory.newWorker(taskQueue);
    worker.registerWorkflowImplementationTypes(
        OrderWorkflow.Impl.class,
        FailureWorkflow.Impl.class,
        ShipWorkflow.Impl.class,
        IntegerWorkflow.Impl.class,
        StructWorkflow.Impl.class);
    worker.registerActivitiesImplementations(new ShopActivities.Impl());

    // SIGTERM and SIGINT run this: stop polling, let running tasks finish, then exit.
    Runtime.getRuntime()
        .addShutdownHook(
            new Thread(
                () -> {
                  factory.shutdown();
                  factory.awaitTermination(20, TimeUnit.SECONDS);
                  service.shutdown();
                }));
    factory.start();
    System.err.printf(
        "polling task queue \"%s\" in namespace \"%s\" at %s%s%n",
        taskQueue,
        namespace,
        address,
        codec == null ? "" : " (payloads encrypted with key id " + codec.keyId() + ")");
    Thread.currentThread().join(); // the factory's threads do the work
  }
}
