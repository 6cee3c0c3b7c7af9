package example.workers;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import java.util.List;

/** The workflows' arguments and results: records, written by Jackson as plain JSON. */
public final class Types {
  private Types() {}

  public record Item(String sku, int quantity) {}

  public record OrderInput(String customer, List<Item> items) {}

  public record Approval(String approver) {}

  public record SkuArg(String sku) {}

  public record Quantity(String sku, int quantity) {}

  @JsonInclude(JsonInclude.Include.NON_NULL)
  public record OrderStatus(
      String state,
      String customer,
      List<Item> items,
      int units,
      @JsonProperty("approved_by") String approvedBy) {}

  public record OrderResult(
      String customer,
      List<Item> items,
      int units,
      @JsonProperty("approved_by") String approvedBy,
      String charge) {}

  public record ChargeRequest(String customer, int units) {}

  public record StockRequest(String sku, int quantity) {}

  public record StockDetails(String sku, int requested, int available) {}

  public record PaymentDetails(String reason, @JsonProperty("amount_cents") long amountCents) {}

  /** kind: activity, declined, plain, none (see FailureWorkflow). */
  public record FailureInput(String kind, String sku) {}

  public record ShipResult(String customer, int count, boolean express, String summary) {}

  public record IntegerInput(long value) {}

  public record IntegerResult(
      long value, String text, long next, @JsonProperty("next_text") String nextText) {}

  /** StructWorkflow's argument: one line of units at unit_cents each. */
  public record ReceiptRequest(
      @JsonProperty("order_id") String orderId,
      String customer,
      int units,
      @JsonProperty("unit_cents") long unitCents) {}
}
