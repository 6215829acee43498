/**
 * Secrets must not reach a log line or an error message. Provider clients attach the
 * request (with its Authorization header or SigV4 credentials) to their errors; these
 * helpers reduce an error to name/code/message/status and scrub any known secret value
 * that a server might echo back in a body.
 */
export class SecretScrubber {
  private readonly secrets: string[];

  constructor(secrets: Iterable<string | undefined>) {
    // Longest first so a secret containing another is replaced whole.
    this.secrets = [...new Set([...secrets].filter((s): s is string => typeof s === 'string' && s.length >= 4))].sort((a, b) => b.length - a.length);
  }

  scrub(text: string): string {
    let out = text;
    for (const s of this.secrets) out = out.split(s).join('[redacted]');
    // Bearer tokens and SigV4 credentials we were not told about.
    return out.replace(/(Bearer\s+)[A-Za-z0-9._~+/=-]+/g, '$1[redacted]').replace(/(Credential=)[^,\s]+/g, '$1[redacted]');
  }
}

export interface SafeErrorSummary {
  readonly name: string;
  readonly code?: string;
  readonly status?: number;
  readonly message: string;
}

/**
 * The loggable part of any error (axios, AWS SDK, node): never `config`, `request`,
 * `response`, `$response` or headers.
 */
export function safeErrorSummary(err: unknown, scrubber?: SecretScrubber): SafeErrorSummary {
  const e = err as { name?: unknown; code?: unknown; message?: unknown; status?: unknown; response?: { status?: unknown }; $metadata?: { httpStatusCode?: unknown } };
  const status = [e?.status, e?.response?.status, e?.$metadata?.httpStatusCode].find((s): s is number => typeof s === 'number');
  const message = typeof e?.message === 'string' ? e.message : String(err);
  return {
    name: typeof e?.name === 'string' ? e.name : 'Error',
    code: typeof e?.code === 'string' ? e.code : undefined,
    status,
    message: scrubber ? scrubber.scrub(message) : message,
  };
}
