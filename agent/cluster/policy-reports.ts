import type { Finding } from '../core/finding.js';
import { buildPolicyReport, reportContentKey, reportName, type ClusterPolicyReport } from '../core/policy-report.js';
import type { Logger } from '../telemetry/logger.js';
import { ConflictError, ResourceMissingError, type NodeApi, type PolicyReportApi } from './api.js';

/** What a `write` did. */
export type PolicyReportOutcome = 'created' | 'replaced' | 'unchanged' | 'unavailable' | 'failed';

export interface PolicyReportWriterOptions {
  readonly nodeName: string;
  readonly logger: Logger;
  /** Called with true when the CRD is found missing, false once a report is written or found (a metric). */
  readonly onAvailability: (unavailable: boolean) => void;
  /** Without the CRD, how long until the next try (it may be installed later). */
  readonly retryMs: number;
}

/** How often a node without the wgpolicyk8s.io CRD looks again. */
export const POLICY_REPORT_RETRY_MS = 600_000;

/**
 * Keeps this node's ClusterPolicyReport equal to its latest findings, writing only when the content
 * (timestamps aside) changed: an unchanged node sends one GET at start and nothing after. The agent on a
 * node is its report's only writer. Without the CRD it logs once, sets the metric and tries again every
 * `retryMs`; no error ever leaves `write` (reporting must not stop the node's reconcile).
 */
export class PolicyReportWriter {
  /** The report as stored (with its resourceVersion); undefined until read once. */
  private stored: ClusterPolicyReport | null | undefined;
  private nodeUid: string | null = null;
  private unavailableUntil = 0;
  private missingLogged = false;
  private lastError = '';

  constructor(
    private readonly reports: PolicyReportApi,
    private readonly nodes: NodeApi,
    private readonly options: PolicyReportWriterOptions,
  ) {}

  async write(findings: readonly Finding[], policyHash: string, nowMs: number): Promise<PolicyReportOutcome> {
    if (nowMs < this.unavailableUntil) return 'unavailable';
    const { nodeName, logger } = this.options;
    try {
      if (this.stored === undefined) {
        this.stored = await this.reports.get(reportName(nodeName));
        this.available();
      }
      // The owner reference makes the report go with its Node; a Node that cannot be read is retried next time.
      this.nodeUid ??= await this.nodes.get(nodeName).then(
        (node) => node.uid,
        () => null,
      );
      const report = buildPolicyReport({ node: { name: nodeName, uid: this.nodeUid }, findings, policyHash, nowMs, previous: this.stored });
      if (this.stored && reportContentKey(this.stored) === reportContentKey(report)) return 'unchanged';
      const outcome = await this.store(report);
      this.available();
      this.lastError = '';
      logger.debug('policy report written', { report: report.metadata.name, outcome, summary: report.summary });
      return outcome;
    } catch (error) {
      if (error instanceof ResourceMissingError) {
        this.unavailableUntil = nowMs + this.options.retryMs;
        this.stored = undefined;
        this.options.onAvailability(true);
        if (!this.missingLogged)
          logger.warn('ClusterPolicyReport not written: the wgpolicyk8s.io CRD is not installed', {
            node: nodeName,
            retrySeconds: this.options.retryMs / 1000,
          });
        this.missingLogged = true;
        return 'unavailable';
      }
      const message = error instanceof Error ? error.message : String(error);
      // A lost race or a report deleted by hand: read it again next time.
      this.stored = undefined;
      if (message !== this.lastError) logger.warn('ClusterPolicyReport not written', { node: nodeName, error: message });
      this.lastError = message;
      return 'failed';
    }
  }

  private available(): void {
    if (this.missingLogged) this.options.logger.info('ClusterPolicyReport CRD found, writing reports', { node: this.options.nodeName });
    this.missingLogged = false;
    this.options.onAvailability(false);
  }

  /** Creates or replaces; one retry after a conflict (someone created or changed it meanwhile). */
  private async store(report: ClusterPolicyReport): Promise<'created' | 'replaced'> {
    for (let attempt = 0; ; attempt += 1) {
      try {
        if (this.stored) {
          const resourceVersion = this.stored.metadata.resourceVersion;
          this.stored = await this.reports.replace({ ...report, metadata: { ...report.metadata, ...(resourceVersion ? { resourceVersion } : {}) } });
          return 'replaced';
        }
        this.stored = await this.reports.create(report);
        return 'created';
      } catch (error) {
        if (!(error instanceof ConflictError) || attempt > 0) throw error;
        this.stored = await this.reports.get(report.metadata.name);
      }
    }
  }
}
