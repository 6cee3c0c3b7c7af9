package example.workers;

import example.workers.Types.ShipResult;
import io.temporal.workflow.WorkflowInterface;
import io.temporal.workflow.WorkflowMethod;

/** Three positional arguments: a caller must send three payloads (a string, an int, a boolean). */
@WorkflowInterface
public interface ShipWorkflow {
  @WorkflowMethod(name = "JavaShipWorkflow")
  ShipResult run(String customer, int count, boolean express);

  class Impl implements ShipWorkflow {
    @Override
    public ShipResult run(String customer, int count, boolean express) {
      String summary =
          count + " parcels for " + customer + ", " + (express ? "express" : "standard");
      return new ShipResult(customer, count, express, summary);
    }
  }
}
