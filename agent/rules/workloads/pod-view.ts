/**
 * The parts of a core/v1 Pod the workload rules read, as the API returns them (JSON field names). A
 * structural subset, so the rules stay pure and tests write pods as literals.
 */

export interface SecurityContextLike {
  readonly privileged?: boolean;
  readonly runAsNonRoot?: boolean;
  readonly runAsUser?: number;
  readonly allowPrivilegeEscalation?: boolean;
  readonly readOnlyRootFilesystem?: boolean;
  readonly capabilities?: { readonly add?: readonly string[]; readonly drop?: readonly string[] };
}

export interface ContainerLike {
  readonly name: string;
  readonly securityContext?: SecurityContextLike;
  readonly resources?: { readonly limits?: Readonly<Record<string, string | number>> };
}

export interface PodLike {
  readonly metadata: { readonly name: string; readonly namespace: string; readonly uid?: string; readonly labels?: Readonly<Record<string, string>> };
  readonly spec: {
    readonly nodeName?: string;
    readonly hostNetwork?: boolean;
    readonly hostPID?: boolean;
    readonly hostIPC?: boolean;
    readonly securityContext?: { readonly runAsNonRoot?: boolean; readonly runAsUser?: number };
    readonly containers: readonly ContainerLike[];
    readonly initContainers?: readonly ContainerLike[];
    readonly volumes?: readonly { readonly name: string; readonly hostPath?: { readonly path: string } }[];
  };
  readonly status?: { readonly phase?: string };
}
