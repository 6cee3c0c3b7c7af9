package example.workers;

import example.workers.Types.FailureInput;
import example.workers.Types.PaymentDetails;
import example.workers.Types.StockRequest;
import io.temporal.activity.ActivityOptions;
import io.temporal.common.RetryOptions;
import io.temporal.failure.ApplicationFailure;
import io.temporal.workflow.Workflow;
import io.temporal.workflow.WorkflowInterface;
import io.temporal.workflow.WorkflowMethod;
import java.time.Duration;

/**
 * Fails as its input's kind asks:
 *
 * <ul>
 *   <li>activity: the activity's OutOfStock ApplicationFailure reaches the workflow as an
 *       ActivityFailure, which is not caught: the workflow fails with ActivityFailure ->
 *       ApplicationFailure OutOfStock (details [{sku, requested, available}])
 *   <li>declined: ApplicationFailure PaymentDeclined with two details
 *   <li>plain: an IllegalStateException, not a TemporalFailure: in Java this fails the workflow
 *       TASK, again and again, and the workflow stays RUNNING
 *   <li>none: completes
 * </ul>
 */
@WorkflowInterface
public interface FailureWorkflow {
  @WorkflowMethod(name = "JavaFailureWorkflow")
  String run(FailureInput input);

  class Impl implements FailureWorkflow {
    private final ShopActivities activities =
        Workflow.newActivityStub(
            ShopActivities.class,
            ActivityOptions.newBuilder()
                .setStartToCloseTimeout(Duration.ofSeconds(10))
                .setRetryOptions(RetryOptions.newBuilder().setMaximumAttempts(3).build())
                .build());

    @Override
    public String run(FailureInput input) {
      String sku = input.sku() == null ? "APPLE-1" : input.sku();
      switch (String.valueOf(input.kind())) {
        case "activity":
          activities.reserveStock(new StockRequest(sku, 1));
          return "reserved";
        case "declined":
          throw ApplicationFailure.newFailure(
              "payment declined",
              "PaymentDeclined",
              new PaymentDetails("insufficient funds", 4200),
              "card ending 4242");
        case "plain":
          throw new IllegalStateException("the warehouse robot is stuck");
        case "none":
          return "no failure";
        default:
          throw ApplicationFailure.newNonRetryableFailure(
              "unknown kind " + input.kind(), "InvalidKind");
      }
    }
  }
}
