import { ABSENT } from '../command.ts';
import type { LinkState } from '../inspect.ts';
import { expectedNsNatSummary, nsNatRuleset } from '../nft-rules.ts';
import { type SlotLayout, TAP_PREFIX_LENGTH, VETH_PREFIX_LENGTH } from '../slot-layout.ts';
import { freshNamespaceState, type SlotState } from './slot-state.ts';
import type { StepCommand } from './step-command.ts';

/** What a step looks at: the slot's names and the kernel state read at the start, kept current. */
export interface StepContext {
  layout: SlotLayout;
  state: SlotState;
}

/** One piece of a slot's network: planned only when `done` says it is missing. */
export interface SlotStep {
  name: string;
  done(context: StepContext): boolean;
  /** The commands that build the piece; also records in `state` what they will have built. */
  plan(context: StepContext): StepCommand[];
}

const hasAddress = (link: LinkState | undefined, cidr: string): boolean =>
  link?.addresses.includes(cidr) ?? false;
const vethCidr = (ip: string): string => `${ip}/${VETH_PREFIX_LENGTH}`;
const tapCidr = (layout: SlotLayout): string => `${layout.tapIp}/${TAP_PREFIX_LENGTH}`;
const host = (...ip: string[]): StepCommand => ({ ip, inNetns: false });
const inNs = (...ip: string[]): StepCommand => ({ ip, inNetns: true });

/** A step that brings links up inside the namespace. */
function nsLinksUp(name: string, links: (layout: SlotLayout) => string[]): SlotStep {
  const down = ({ layout, state }: StepContext): string[] =>
    links(layout).filter((link) => state.nsLinks.get(link)?.up !== true);
  return {
    name,
    done: (context) => down(context).length === 0,
    plan: (context) => down(context).map((link) => inNs('link', 'set', link, 'up')),
  };
}

/** A step that gives a link an address, on the host or inside the namespace. */
function address(
  name: string,
  where: 'host' | 'ns',
  link: (l: SlotLayout) => string,
  cidr: (l: SlotLayout) => string,
): SlotStep {
  const current = ({ layout, state }: StepContext): LinkState | undefined =>
    where === 'host' ? state.hostVeth : state.nsLinks.get(link(layout));
  return {
    name,
    done: (context) => hasAddress(current(context), cidr(context.layout)),
    plan: ({ layout }) => [
      (where === 'host' ? host : inNs)('addr', 'replace', cidr(layout), 'dev', link(layout)),
    ],
  };
}

/**
 * A slot's network, in build order. Each step's `done` looks at its own piece only, so a run
 * that stopped between any two steps (or inside one) converges when run again. Steps that
 * run in the same place sit together so their commands share one `ip -batch` process.
 */
export const SLOT_STEPS: readonly SlotStep[] = [
  {
    name: 'netns',
    done: ({ state }) => state.netns,
    plan({ layout, state }) {
      freshNamespaceState(state);
      // A concurrent ensure of the same slot may win the race: its namespace is just as good.
      return [{ argv: ['ip', 'netns', 'add', layout.netns], tolerate: /File exists/ }];
    },
  },
  {
    name: 'veth',
    done: ({ layout, state }) => state.hostVeth !== undefined && state.nsLinks.has(layout.nsVeth),
    plan({ layout, state }) {
      const commands: StepCommand[] = [];
      // Half a pair cannot exist, but a stray link can hold either name: clear both first.
      if (state.hostVeth !== undefined)
        commands.push({ argv: ['ip', 'link', 'del', layout.hostVeth], tolerate: ABSENT });
      if (state.nsLinks.has(layout.nsVeth)) {
        commands.push({ argv: ['ip', '-n', layout.netns, 'link', 'del', layout.nsVeth], tolerate: ABSENT });
      }
      // Created with its peer already inside: `eth0` would clash with the host's own.
      commands.push(
        host(
          'link',
          'add',
          layout.hostVeth,
          'type',
          'veth',
          'peer',
          'name',
          layout.nsVeth,
          'netns',
          layout.netns,
        ),
      );
      state.hostVeth = { name: layout.hostVeth, up: false, addresses: [] };
      state.nsLinks.set(layout.nsVeth, { name: layout.nsVeth, up: false, addresses: [] });
      state.hostRoutes = [];
      state.nsDefaultRoutes = [];
      return commands;
    },
  },
  address(
    'host-veth-address',
    'host',
    (l) => l.hostVeth,
    (l) => vethCidr(l.hostVethIp),
  ),
  {
    name: 'host-veth-up',
    done: ({ state }) => state.hostVeth?.up === true,
    plan: ({ layout }) => [host('link', 'set', layout.hostVeth, 'up')],
  },
  address(
    'ns-veth-address',
    'ns',
    (l) => l.nsVeth,
    (l) => vethCidr(l.nsVethIp),
  ),
  nsLinksUp('ns-links-up', (layout) => ['lo', layout.nsVeth]),
  {
    name: 'ns-default-route',
    done: ({ layout, state }) =>
      state.nsDefaultRoutes.some(
        (route) => route.gateway === layout.hostVethIp && route.dev === layout.nsVeth,
      ),
    plan: ({ layout }) => [
      inNs('route', 'replace', 'default', 'via', layout.hostVethIp, 'dev', layout.nsVeth),
    ],
  },
  {
    name: 'tap',
    done: ({ layout, state }) => state.nsLinks.has(layout.tap),
    plan({ layout, state }) {
      state.nsLinks.set(layout.tap, { name: layout.tap, up: false, addresses: [] });
      return [inNs('tuntap', 'add', 'dev', layout.tap, 'mode', 'tap')];
    },
  },
  address('tap-address', 'ns', (l) => l.tap, tapCidr),
  nsLinksUp('tap-up', (layout) => [layout.tap]),
  {
    name: 'ns-forwarding',
    done: ({ state }) => state.nsForwarding,
    // No `ip -n` form for sysctls: this one needs the namespace entered.
    plan: ({ layout }) => [
      { argv: ['ip', 'netns', 'exec', layout.netns, 'sysctl', '-w', 'net.ipv4.ip_forward=1'] },
    ],
  },
  {
    name: 'ns-nat',
    done: ({ layout, state }) => state.nsNat?.join('\n') === expectedNsNatSummary(layout).join('\n'),
    // nft has no namespace option; the ruleset replaces the table in one transaction.
    plan: ({ layout }) => [
      { argv: ['ip', 'netns', 'exec', layout.netns, 'nft', '-f', '-'], input: nsNatRuleset(layout) },
    ],
  },
  {
    name: 'host-route',
    done: ({ layout, state }) =>
      state.hostRoutes.some((route) => route.gateway === layout.nsVethIp && route.dev === layout.hostVeth),
    plan: ({ layout }) => [
      host('route', 'replace', `${layout.hostIp}/32`, 'via', layout.nsVethIp, 'dev', layout.hostVeth),
    ],
  },
];

/** The step names in order: what afterStep receives. */
export const SLOT_STEP_NAMES: readonly string[] = SLOT_STEPS.map((step) => step.name);
