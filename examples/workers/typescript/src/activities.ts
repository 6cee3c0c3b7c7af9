// The TypeScript example worker's activities: plain Node.js, outside the workflow sandbox.
import { ApplicationFailure } from '@temporalio/common';
import { log } from '@temporalio/activity';

export async function tsChargeOrder(req: { customer: string; units: number }): Promise<string> {
  log.info('charging', { customer: req.customer, units: req.units });
  return `charged ${req.customer} for ${req.units} units`;
}

/**
 * Always finds the shelf empty: a non-retryable ApplicationFailure of type OutOfStock with
 * the sku in its details, which reaches the workflow as an ActivityFailure whose cause it is.
 */
export async function tsReserveStock(req: { sku: string; quantity: number }): Promise<void> {
  throw ApplicationFailure.nonRetryable(`sku ${req.sku} is out of stock`, 'OutOfStock', {
    sku: req.sku,
    requested: req.quantity,
    available: 0,
  });
}
