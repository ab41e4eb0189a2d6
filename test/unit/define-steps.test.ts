/**
 * defineSteps: the implementations it returns are the ones given (so the host runs them as
 * written), their types are what a strict user needs (`ctx` a StepContext, the declared input,
 * `unknown` when none is declared, an undo's output possibly null), and the result binds as
 * `SagaBinding.steps`. The type assertions are checked by `npm run typecheck`.
 */
import { afterEach, describe, expect, expectTypeOf, it } from 'vitest';
import { defineSaga } from '../../machines/kit/index.js';
import { createRuntime } from '../../src/runtime/create-runtime.js';
import { defineSteps, type UndoInput } from '../../src/runtime/define-steps.js';
import type { Runtime } from '../../src/runtime/runtime.js';
import { memoryStores } from '../../src/runtime/stores.js';
import type { StepContext } from '../../src/runtime/types.js';

interface Order { readonly id: string; readonly qty: number }

const runtimes: Runtime[] = [];
afterEach(async () => {
  await Promise.all(runtimes.splice(0).map((r) => r.close()));
});

describe('defineSteps', () => {
  it('types ctx as StepContext, keeps declared inputs and outputs, and leaves undeclared inputs unknown', () => {
    const steps = defineSteps({
      reserve: async (order: Order, ctx) => {
        expectTypeOf(ctx).toEqualTypeOf<StepContext>();
        return { reservation: `${order.id}:${ctx.idempotencyKey}` };
      },
      release: async ({ output }: UndoInput<Order, { reservation: string }>) => {
        expectTypeOf(output).toEqualTypeOf<{ reservation: string } | null>();
      },
      untyped: (input, ctx) => {
        expectTypeOf(input).toBeUnknown();
        return ctx.attempt;
      },
    });
    expectTypeOf(steps.reserve).parameter(0).toEqualTypeOf<Order>();
    expectTypeOf(steps.reserve).returns.resolves.toEqualTypeOf<{ reservation: string }>();
    expectTypeOf(steps.untyped).returns.toEqualTypeOf<number>();
  });

  it('returns the implementations unchanged, and they bind and run as a saga’s steps', async () => {
    const calls: string[] = [];
    const impls = {
      reserveStock: async (order: Order, ctx: StepContext) => {
        calls.push(`reserve ${order.id} x${order.qty} #${ctx.attempt}`);
        return { reservation: 'R1' };
      },
      releaseStock: async ({ input }: UndoInput<Order, { reservation: string }>) => void calls.push(`release ${input.id}`),
      shipOrder: async (order: Order) => ({ shipped: order.id }),
    };
    const steps = defineSteps(impls);
    expect(steps).toBe(impls);

    const machine = defineSaga({
      id: 'typed',
      steps: [
        { name: 'reserve', run: 'reserveStock', undo: 'releaseStock' },
        { name: 'ship', run: 'shipOrder' },
      ],
    });
    const rt = await createRuntime({ stores: memoryStores(), owner: 'typed', recoverOnStart: false, recoverIntervalMs: 0, machines: [{ id: 'typed', version: 1, machine, steps }] });
    runtimes.push(rt);
    await rt.start('typed', { id: 'o1', qty: 2 } satisfies Order, { id: 't1' });
    const done = await rt.wait('t1', { timeoutMs: 5_000 });
    expect(done.status).toBe('completed');
    expect(done.output).toEqual({ outputs: { reserve: { reservation: 'R1' }, ship: { shipped: 'o1' } }, error: null, warnings: [] });
    expect(calls).toEqual(['reserve o1 x2 #1']);
  });
});
