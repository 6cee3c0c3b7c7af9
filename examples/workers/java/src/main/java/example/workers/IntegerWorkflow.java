package example.workers;

import example.workers.Types.IntegerInput;
import example.workers.Types.IntegerResult;
import io.temporal.workflow.WorkflowInterface;
import io.temporal.workflow.WorkflowMethod;

/**
 * Echoes a long: exact over the whole int64 range (Jackson reads integers exactly); next wraps
 * around at 2^63-1, as Java's long does.
 */
@WorkflowInterface
public interface IntegerWorkflow {
  @WorkflowMethod(name = "JavaIntegerWorkflow")
  IntegerResult run(IntegerInput input);

  class Impl implements IntegerWorkflow {
    @Override
    public IntegerResult run(IntegerInput input) {
      long next = input.value() + 1;
      return new IntegerResult(
          input.value(), Long.toString(input.value()), next, Long.toString(next));
    }
  }
}
