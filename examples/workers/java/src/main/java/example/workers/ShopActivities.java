package example.workers;

import example.workers.Types.ChargeRequest;
import example.workers.Types.StockDetails;
import example.workers.Types.StockRequest;
import io.temporal.activity.ActivityInterface;
import io.temporal.activity.ActivityMethod;
import io.temporal.failure.ApplicationFailure;

/** The activities, named explicitly (the SDK's default would be the capitalized method name). */
@ActivityInterface
public interface ShopActivities {
  @ActivityMethod(name = "JavaChargeOrder")
  String chargeOrder(ChargeRequest request);

  /**
   * Always finds the shelf empty: a non-retryable ApplicationFailure of type OutOfStock with the
   * sku in its details, which reaches the workflow as an ActivityFailure whose cause it is.
   */
  @ActivityMethod(name = "JavaReserveStock")
  void reserveStock(StockRequest request);

  class Impl implements ShopActivities {
    @Override
    public String chargeOrder(ChargeRequest request) {
      return "charged " + request.customer() + " for " + request.units() + " units";
    }

    @Override
    public void reserveStock(StockRequest request) {
      throw ApplicationFailure.newNonRetryableFailure(
          "sku " + request.sku() + " is out of stock",
          "OutOfStock",
          new StockDetails(request.sku(), request.quantity(), 0));
    }
  }
}
