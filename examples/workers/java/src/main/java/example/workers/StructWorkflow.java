package example.workers;

import com.google.protobuf.ListValue;
import com.google.protobuf.Struct;
import com.google.protobuf.Value;
import example.workers.Types.ReceiptRequest;
import io.temporal.workflow.WorkflowInterface;
import io.temporal.workflow.WorkflowMethod;

/**
 * Returns a google.protobuf.Struct, a protobuf message every protobuf runtime knows, so it needs
 * no generated code (protobuf-java comes with the SDK). The SDK's default data converter tries
 * its protobuf JSON converter before Jackson: the result goes as json/protobuf, the message's
 * proto JSON with metadata messageType "google.protobuf.Struct", as Go's GoStructWorkflow's does.
 */
@WorkflowInterface
public interface StructWorkflow {
  @WorkflowMethod(name = "JavaStructWorkflow")
  Struct run(ReceiptRequest input);

  class Impl implements StructWorkflow {
    @Override
    public Struct run(ReceiptRequest input) {
      ListValue tags =
          ListValue.newBuilder().addValues(text("struct")).addValues(text("protobuf")).build();
      // A Struct's numbers are doubles, as JSON's are.
      double total = (double) (input.units() * input.unitCents());
      return Struct.newBuilder()
          .putFields("order_id", text(input.orderId()))
          .putFields("customer", text(input.customer()))
          .putFields("total", Value.newBuilder().setNumberValue(total).build())
          .putFields("tags", Value.newBuilder().setListValue(tags).build())
          .putFields("paid", Value.newBuilder().setBoolValue(true).build())
          .build();
    }

    private static Value text(String s) {
      return Value.newBuilder().setStringValue(s).build();
    }
  }
}
