import { existsSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BOARD_PATH, type Dashboard, startDashboard } from '../../src/dashboard/index.ts';
import { startTestFleet, TEST_REDIS_URL, type TestFleet } from '../support/fleet.ts';

// Debian's chromium, installed by scripts/bootstrap.sh (never a downloaded browser).
const CHROMIUM = '/usr/bin/chromium';
const hasChromium = existsSync(CHROMIUM);
if (!hasChromium) {
  console.warn(
    `fleet page browser test skipped: ${CHROMIUM} is missing (scripts/bootstrap.sh installs it as root)`,
  );
}

// Screenshots go beside the test output, at the repository's test-results/ (gitignored).
const SHOTS = fileURLToPath(new URL('../../test-results/fleet-page/', import.meta.url));

describe.skipIf(!hasChromium)(
  'fleet page in a real browser (chromium, fleet on the [CH simulator stand-in])',
  () => {
    let fleet: TestFleet;
    let dashboard: Dashboard;
    let browser: Browser;
    let page: Page;
    let searchId: string;
    let batchId: string;

    const shot = (name: string) => page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
    const row = (sandboxId: string) => page.locator(`#sandboxes tr[data-sandbox-id="${sandboxId}"]`);
    const stateOf = (sandboxId: string, state: string) =>
      row(sandboxId).locator('.state-badge', { hasText: new RegExp(`^${state}$`) });

    beforeAll(async () => {
      await rm(SHOTS, { recursive: true, force: true });
      await mkdir(SHOTS, { recursive: true });
      fleet = await startTestFleet({ hosts: ['fp-h1', 'fp-h2'], network: { prefix: 'hgfp', octet: 134 } });
      dashboard = await startDashboard({
        redisUrl: TEST_REDIS_URL,
        keyPrefix: fleet.keyPrefix,
        port: 0,
        refreshMs: 200,
      });
      browser = await chromium.launch({
        executablePath: CHROMIUM,
        args: [
          '--headless',
          '--no-sandbox',
          '--disable-gpu',
          '--disable-quic',
          '--no-first-run',
          '--disable-background-networking',
          '--disable-component-update',
          '--disable-sync',
        ],
      });
      // A fresh context: its own empty profile, nothing kept from any other run.
      const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
      page = await context.newPage();
      page.setDefaultTimeout(15_000);
    }, 60_000);

    afterAll(async () => {
      await browser?.close();
      await dashboard?.close();
      await fleet?.stop();
    }, 60_000);

    it('lists both hosts with their backend, capacity and heartbeat', async () => {
      await page.goto(`${dashboard.url}/fleet`);
      for (const hostId of ['fp-h1', 'fp-h2']) {
        const host = page.locator(`#hosts tr[data-host-id="${hostId}"]`);
        await host.waitFor();
        expect(await host.getAttribute('data-condition')).toBe('live');
        expect(await host.textContent()).toMatch(/stand-in/);
        expect(await host.textContent()).toMatch(/s ago/);
      }
      // The page listens before anything is created, so what follows arrives live.
      await page.locator('#live-status[data-status="live"]').waitFor();
      await shot('01-hosts');
    });

    it('shows a sandbox created during the test, and its state changes, without a reload', async () => {
      const create = await fleet.client.create({
        template: 'base',
        vcpus: 1,
        memoryMib: 128,
        labels: { team: 'search' },
      });
      searchId = create.sandboxId;
      await row(searchId).waitFor();
      await create.result();
      await stateOf(searchId, 'running').waitFor();
      // The row is read again after the change: the address comes with 'running'.
      await row(searchId)
        .locator('td', { hasText: /^10\.\d+\.\d+\.\d+$/ })
        .waitFor();
      await page.locator('#counts .count[data-state="running"]', { hasText: '1' }).waitFor();
      await shot('02-created');

      await (await fleet.client.pause(searchId)).result();
      await stateOf(searchId, 'paused').waitFor();
      await page.locator('#counts .count[data-state="paused"]', { hasText: '1' }).waitFor();
      await page
        .locator('#events tr[data-type="sandbox.state"] td.details', { hasText: 'state=paused' })
        .first()
        .waitFor();
      await shot('03-paused-live');
    });

    it('narrows the list with a label filter', async () => {
      const create = await fleet.client.create({
        template: 'base',
        vcpus: 1,
        memoryMib: 128,
        labels: { team: 'batch' },
      });
      batchId = create.sandboxId;
      await create.result();
      await stateOf(batchId, 'running').waitFor();
      expect(await page.locator('#sandboxes tbody tr[data-sandbox-id]').count()).toBe(2);

      await page.locator('form.filter input[name="label"]').first().fill('team=search');
      await Promise.all([page.waitForURL(/label=team%3Dsearch/), page.locator('form.filter button').click()]);
      await row(searchId).waitFor();
      expect(await row(batchId).count()).toBe(0);
      expect(await page.locator('#sandboxes tbody tr[data-sandbox-id]').count()).toBe(1);
      await shot('04-label-filter');
    });

    it("opens a sandbox's page: record, jobs linking into Bull Board, events, kept live", async () => {
      // A failed job stays in Bull Board (a completed one leaves it at once): a snapshot id
      // taken by another sandbox fails as a conflict.
      await (await fleet.client.snapshot(batchId, { snapshotId: 'fp-snap' })).result();
      const clash = await fleet.client.snapshot(searchId, { snapshotId: 'fp-snap' });
      await expect(clash.result()).rejects.toMatchObject({ code: 'E_CONFLICT' });

      await Promise.all([
        page.waitForURL(/\/fleet\/sandboxes\//),
        row(searchId).locator('a').first().click(),
      ]);
      const record = page.locator('#record dl.record');
      await record.waitFor();
      expect(await record.textContent()).toContain(searchId);
      expect(await record.textContent()).toContain('team=search');
      await page.locator('#record .state-badge', { hasText: 'paused' }).waitFor();

      const failed = page.locator(`#jobs tr[data-job-id="${clash.jobId}"][data-status="failed"]`);
      await failed.waitFor();
      expect(await failed.textContent()).toContain('E_CONFLICT');
      const link = failed.locator('a.board-link');
      expect(await link.getAttribute('href')).toBe(
        `${BOARD_PATH}/queue/host-${clash.hostId}/${encodeURIComponent(clash.jobId)}`,
      );
      for (const op of ['create', 'pause']) {
        await page
          .locator('#jobs tr[data-status="completed"] td', { hasText: new RegExp(`^${op}$`) })
          .waitFor();
      }
      expect(await page.locator('#events tr[data-type="sandbox.state"]').count()).toBeGreaterThanOrEqual(3);
      await page.locator('#live-status[data-status="live"]').waitFor();

      // Live on this page too: a resume changes the record and adds its events on top.
      await (await fleet.client.resume(searchId)).result();
      await page.locator('#record .state-badge', { hasText: 'running' }).waitFor();
      await page.locator('#jobs tr[data-status="completed"] td', { hasText: /^resume$/ }).waitFor();
      await page
        .locator('#events tbody tr')
        .first()
        .locator('td.details', { hasText: /state=running|op=resume/ })
        .waitFor();
      await shot('05-sandbox-detail');

      // The job's link opens it in Bull Board.
      await Promise.all([page.waitForURL(/\/admin\/queues\/queue\//), link.click()]);
      await page.getByText(clash.jobId).first().waitFor();
      await shot('06-bull-board-job');
    });
  },
);
