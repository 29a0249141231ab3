// The UI's only way to the API: the generated, typed client. No hand-written request types.
import { createPmhubClient, isProblem, type PmhubClient, type Problem } from "@pmhub/client";

const TOKEN_KEY = "pmhub.token";

/** The token lives in this tab's sessionStorage only; it is sent as the Authorization header. */
export function storedToken(): string | null {
  return sessionStorage.getItem(TOKEN_KEY);
}

export function storeToken(token: string): void {
  sessionStorage.setItem(TOKEN_KEY, token);
}

export function forgetToken(): void {
  sessionStorage.removeItem(TOKEN_KEY);
}

export function client(token: string): PmhubClient {
  // Same origin: the UI is served by pmhub itself.
  return createPmhubClient({ baseUrl: window.location.origin, token });
}

/** What the UI shows for a failed call: the code, the server's detail, and what to do. */
export interface UiError {
  code: string;
  message: string;
  hint: string;
  fields: { field: string; message: string }[];
}

const HINTS: Record<string, string> = {
  INTEGRATION_NOT_CONNECTED:
    "Connect GitHub first: an admin pastes a GitHub token under Settings.",
  GITHUB_NOT_FOUND:
    "The token cannot see this repository: check the owner and the name, or grant the token access to it.",
  GITHUB_UNAUTHORIZED:
    "GitHub rejected the token: an admin connects GitHub again with a valid token.",
  GITHUB_FORBIDDEN:
    "The GitHub token lacks a permission (Issues: write, Metadata: read; Administration: write to create repositories).",
  GITHUB_RATE_LIMITED: "GitHub's rate limit was reached: try again later.",
  GITHUB_UNAVAILABLE: "GitHub did not answer: try again in a moment.",
  GITHUB_REPO_NAME_TAKEN: "The repository name is taken on GitHub.",
  CONFLICT: "Another change or run is in progress for this project: wait, then try again.",
  VALIDATION_FAILED: "Correct the values and try again.",
  UNAUTHENTICATED: "The API token is not valid: sign in again.",
  FORBIDDEN: "Only admins can do this.",
  NOT_FOUND: "Not found in your workspace.",
  PAYLOAD_TOO_LARGE: "The text is too long.",
  INTERNAL: "The server failed: try again, and tell an operator if it keeps failing.",
  NETWORK: "pmhub did not answer: is the server running?",
};

export function hintFor(code: string): string {
  return HINTS[code] ?? "";
}

export function toUiError(error: unknown): UiError {
  if (isProblem(error)) {
    const p: Problem = error;
    let hint = hintFor(p.code);
    if (p.code === "GITHUB_RATE_LIMITED" && p.retry_after) {
      hint = `GitHub's rate limit was reached: try again in ${p.retry_after} s.`;
    }
    return { code: p.code, message: p.detail || p.title, hint, fields: p.errors ?? [] };
  }
  const message = error instanceof Error ? error.message : String(error);
  return { code: "NETWORK", message, hint: hintFor("NETWORK"), fields: [] };
}

/** Unwraps an openapi-fetch answer: the data, or throws the problem for `toUiError`. */
export async function call<T>(
  request: Promise<{ data?: T; error?: unknown; response: Response }>,
): Promise<T> {
  let answer;
  try {
    answer = await request;
  } catch (e) {
    throw toUiError(e);
  }
  if (answer.error !== undefined || !answer.response.ok) {
    throw toUiError(answer.error);
  }
  return answer.data as T;
}

export function isUiError(value: unknown): value is UiError {
  return typeof value === "object" && value !== null && "hint" in value && "code" in value;
}

export function asUiError(value: unknown): UiError {
  return isUiError(value) ? value : toUiError(value);
}

type Run = import("@pmhub/client").Schemas["SyncRunDto"];

/** A 202 answer of sync or push: the run, still going (it has a `status`; the counts of a
 * finished run answered with 200 have none). */
export function isRun(value: unknown): value is Run {
  return typeof value === "object" && value !== null && typeof (value as { status?: unknown }).status === "string";
}

const FINISHED = ["succeeded", "failed", "canceled"];

/**
 * Follows a background run (import or push) until it finishes, polling its URL and handing
 * every state to `onRun` (live counts and progress). Resolves with the succeeded run; a failed
 * or canceled run rejects with its error code, as the synchronous answer would have.
 */
export async function followRun(
  api: PmhubClient,
  slug: string,
  first: Run,
  onRun: (run: Run) => void,
  everyMs = 500,
): Promise<Run> {
  let run = first;
  onRun(run);
  while (!FINISHED.includes(run.status)) {
    await new Promise((resolve) => setTimeout(resolve, everyMs));
    run = await call(
      api.GET("/api/v1/projects/{slug}/github/sync-runs/{id}", { params: { path: { slug, id: run.id } } }),
    );
    onRun(run);
  }
  if (run.status !== "succeeded") {
    const code = run.status === "canceled" ? "CONFLICT" : (run.error_code ?? "INTERNAL");
    throw toUiError({ type: "about:blank", title: "Run " + run.status, status: 0, detail: `The run ${run.status}.`, code });
  }
  return run;
}
