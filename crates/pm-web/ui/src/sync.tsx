import { useEffect, useRef, useState } from "preact/hooks";
import type { Schemas } from "@pmhub/client";
import { asUiError, call, followRun, isRun, type UiError } from "./api";
import { Dialog, ErrorBox, Field } from "./common";
import type { Session } from "./main";

/**
 * "Sync with GitHub": import the issues of owner/repository into the project's tasks.
 * Owner and Repository start from the project's repository; the dropdown lists every
 * repository the workspace's GitHub token can reach.
 */
export function SyncDialog(props: {
  session: Session;
  project: Schemas["ProjectDto"];
  onClose: () => void;
  onSynced: () => void;
}) {
  const [initialOwner, initialName] = (props.project.github_repo ?? "/").split("/");
  const [owner, setOwner] = useState(initialOwner ?? "");
  const [name, setName] = useState(initialName ?? "");
  const [repos, setRepos] = useState<Schemas["RepoDto"][] | null>(null);
  const [reposError, setReposError] = useState<UiError | null>(null);
  const [running, setRunning] = useState(false);
  const [elapsed, setElapsed] = useState(0);
  const [result, setResult] = useState<Schemas["SyncResponse"] | null>(null);
  const [live, setLive] = useState<Schemas["SyncRunDto"] | null>(null);
  const [error, setError] = useState<UiError | null>(null);
  const timer = useRef<number | undefined>(undefined);

  useEffect(() => {
    call(props.session.api.GET("/api/v1/github/repos"))
      .then((list) => setRepos(list.items))
      .catch((e) => setReposError(asUiError(e)));
    return () => window.clearInterval(timer.current);
  }, []);

  const fullName = `${owner.trim()}/${name.trim()}`;
  const chosen = repos?.some((r) => r.full_name === fullName) ? fullName : "";

  const sync = async (e: Event) => {
    e.preventDefault();
    setRunning(true);
    setError(null);
    setResult(null);
    setLive(null);
    setElapsed(0);
    const started = Date.now();
    timer.current = window.setInterval(() => setElapsed(Math.round((Date.now() - started) / 1000)), 500);
    try {
      // Waits up to a minute for the run; a longer import answers 202 with the run, which is
      // then followed (live counts) until it finishes.
      const answer = await call(
        props.session.api.POST("/api/v1/projects/{slug}/github/sync", {
          params: { path: { slug: props.project.slug }, header: { Prefer: "wait=60" } },
          body: { repo: fullName },
        }),
      );
      if (isRun(answer)) {
        const run = await followRun(props.session.api, props.project.slug, answer, setLive);
        setResult({
          sync_run_id: run.id,
          repo: run.repo,
          created: run.created,
          skipped: run.skipped,
          updated: run.updated,
          unchanged: run.unchanged,
          conflicts: run.conflicts,
          pull_requests_ignored: run.pull_requests_ignored,
          total_seen: run.total_seen,
        });
      } else {
        setResult(answer);
      }
      props.onSynced();
    } catch (err) {
      setError(asUiError(err));
    } finally {
      window.clearInterval(timer.current);
      setRunning(false);
    }
  };

  return (
    <Dialog title="Sync with GitHub" onClose={props.onClose}>
      <form onSubmit={sync}>
        <p class="hint">
          Imports the repository's issues as tasks; pull requests are never imported. Issues already
          imported are merged with their tasks when the project syncs both ways (a change on either
          side is applied to the other), and left as they are when it only imports.
        </p>
        <Field
          label="Repositories this token can reach"
          id="sync-repo-choice"
          hint={reposError ? `Cannot list repositories: ${reposError.hint || reposError.message}` : undefined}
        >
          <select
            id="sync-repo-choice"
            value={chosen}
            disabled={running || !repos}
            aria-describedby={reposError ? "sync-repo-choice-hint" : undefined}
            onChange={(e) => {
              const [o, n] = e.currentTarget.value.split("/");
              if (o && n) {
                setOwner(o);
                setName(n);
              }
            }}
          >
            <option value="">{repos ? "Choose a repository…" : reposError ? "Unavailable" : "Loading…"}</option>
            {repos?.map((r) => (
              <option key={r.full_name} value={r.full_name}>
                {r.full_name}
                {r.private ? " (private)" : ""}
              </option>
            ))}
          </select>
        </Field>
        <div class="row">
          <Field label="Owner" id="sync-owner">
            <input
              id="sync-owner"
              required
              autocomplete="off"
              value={owner}
              disabled={running}
              onInput={(e) => setOwner(e.currentTarget.value)}
            />
          </Field>
          <span class="slash" aria-hidden="true">
            /
          </span>
          <Field label="Repository" id="sync-name">
            <input
              id="sync-name"
              required
              autocomplete="off"
              value={name}
              disabled={running}
              onInput={(e) => setName(e.currentTarget.value)}
            />
          </Field>
        </div>
        <div class="dialog-actions">
          <button type="submit" disabled={running || owner.trim() === "" || name.trim() === ""} aria-busy={running}>
            Sync
          </button>
          <button type="button" class="secondary" onClick={props.onClose}>
            Close
          </button>
        </div>
        {running && (
          <p role="status" class="progress">
            <span class="spinner" aria-hidden="true" /> Syncing {fullName}… {elapsed} s
            {live && (
              <span data-live-status={live.status}>
                {" "}
                · {live.status === "waiting" ? `waiting for GitHub's rate limit until ${live.resumes_at ?? "its reset"}` : live.status}
                {" "}· {live.progress.pages} pages, {live.created} tasks created, {live.skipped} skipped
              </span>
            )}
          </p>
        )}
        {result && (
          <div role="status" class="summary">
            <h3>Synced {result.repo}</h3>
            <dl>
              <dt>Issues and pull requests seen</dt>
              <dd data-count="total_seen">{result.total_seen}</dd>
              <dt>Tasks created</dt>
              <dd data-count="created">{result.created}</dd>
              <dt>Already imported</dt>
              <dd data-count="skipped">{result.skipped}</dd>
              {result.updated + result.unchanged + result.conflicts > 0 && (
                <>
                  <dt>Updated (changed on one side, applied to the other)</dt>
                  <dd data-count="updated">{result.updated}</dd>
                  <dt>Unchanged</dt>
                  <dd data-count="unchanged">{result.unchanged}</dd>
                  <dt>Conflicts (both sides changed; the project's policy chose)</dt>
                  <dd data-count="conflicts">{result.conflicts}</dd>
                </>
              )}
              <dt>Pull requests ignored</dt>
              <dd data-count="pull_requests_ignored">{result.pull_requests_ignored}</dd>
            </dl>
          </div>
        )}
        <ErrorBox error={error} />
      </form>
    </Dialog>
  );
}
