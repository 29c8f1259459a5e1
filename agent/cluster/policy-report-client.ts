import { ApiException, type CustomObjectsApi } from '@kubernetes/client-node';
import { POLICY_REPORT_API_VERSION, type ClusterPolicyReport } from '../core/policy-report.js';
import { ResourceMissingError, type PolicyReportApi } from './api.js';
import { safeJson, translate } from './client-errors.js';

const REPORT_GROUP = POLICY_REPORT_API_VERSION.split('/')[0]!;
const REPORT_VERSION = POLICY_REPORT_API_VERSION.split('/')[1]!;
const REPORT_PLURAL = 'clusterpolicyreports';

/**
 * A 404 names the object when the object is missing (Status details.name); without a name the server
 * does not know the resource (no CRD: "the server could not find the requested resource").
 */
function objectMissing(error: unknown): boolean {
  if (!(error instanceof ApiException) || error.code !== 404) return false;
  const body = typeof error.body === 'string' ? safeJson(error.body) : (error.body as { details?: { name?: string } } | null);
  return typeof (body as { details?: { name?: string } } | null)?.details?.name === 'string';
}

function translateReport(error: unknown, what: string): Error {
  if (error instanceof ApiException && error.code === 404 && !objectMissing(error))
    return new ResourceMissingError(`${what}: the API server does not serve ${REPORT_PLURAL}.${REPORT_GROUP}/${REPORT_VERSION}`);
  return translate(error, what);
}

/** ClusterPolicyReports (wgpolicyk8s.io) through CustomObjectsApi; a missing CRD is ResourceMissingError. */
export class ClientPolicyReports implements PolicyReportApi {
  private readonly at = { group: REPORT_GROUP, version: REPORT_VERSION, plural: REPORT_PLURAL };

  constructor(private readonly api: CustomObjectsApi) {}

  async get(name: string): Promise<ClusterPolicyReport | null> {
    try {
      return (await this.api.getClusterCustomObject({ ...this.at, name })) as ClusterPolicyReport;
    } catch (error) {
      if (objectMissing(error)) return null;
      throw translateReport(error, `clusterpolicyreport ${name}`);
    }
  }

  async create(report: ClusterPolicyReport): Promise<ClusterPolicyReport> {
    const metadata: { -readonly [K in keyof ClusterPolicyReport['metadata']]?: ClusterPolicyReport['metadata'][K] } = { ...report.metadata };
    delete metadata.resourceVersion;
    try {
      return (await this.api.createClusterCustomObject({ ...this.at, body: { ...report, metadata } })) as ClusterPolicyReport;
    } catch (error) {
      throw translateReport(error, `clusterpolicyreport ${report.metadata.name}`);
    }
  }

  async replace(report: ClusterPolicyReport): Promise<ClusterPolicyReport> {
    try {
      return (await this.api.replaceClusterCustomObject({ ...this.at, name: report.metadata.name, body: report })) as ClusterPolicyReport;
    } catch (error) {
      throw translateReport(error, `clusterpolicyreport ${report.metadata.name}`);
    }
  }

  async list(): Promise<ClusterPolicyReport[]> {
    try {
      const list = (await this.api.listClusterCustomObject({ ...this.at, labelSelector: 'app.kubernetes.io/managed-by=kube-harden' })) as {
        items?: ClusterPolicyReport[];
      };
      return list.items ?? [];
    } catch (error) {
      throw translateReport(error, REPORT_PLURAL);
    }
  }
}
