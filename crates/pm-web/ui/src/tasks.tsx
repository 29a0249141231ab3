import { useEffect, useState } from "preact/hooks";
import type { Schemas } from "@pmhub/client";
import { asUiError, call, followRun, isRun, type UiError } from "./api";
import { Dialog, ErrorBox, Field, formatTime } from "./common";
import type { Session } from "./main";
import { SyncDialog } from "./sync";

type Task = Schemas["TaskDto"];
type Project = Schemas["ProjectDto"];
const PAGE_SIZE = 50;
const STATUSES: Schemas["TaskStatusDto"][] = ["todo", "in_progress", "done", "canceled"];
const PRIORITIES: Schemas["PriorityDto"][] = ["none", "low", "medium", "high", "urgent"];

export function TasksPage({ session, slug }: { session: Session; slug: string }) {
  const [project, setProject] = useState<Project | null>(null);
  const [error, setError] = useState<UiError | null>(null);
  // Cursors of the pages before the current one (the first page has none).
  const [cursors, setCursors] = useState<(string | null)[]>([null]);
  const [page, setPage] = useState<Schemas["TaskList"] | null>(null);
  // The page and version the shown tasks were loaded for: anything else is still loading.
  const [loadedKey, setLoadedKey] = useState<string | null>(null);
  const [version, setVersion] = useState(0);
  const [syncOpen, setSyncOpen] = useState(false);
  const [editing, setEditing] = useState<Task | "new" | null>(null);
  const [pushing, setPushing] = useState(false);
  const [pushResult, setPushResult] = useState<Schemas["PushResponse"] | null>(null);
  const [pushError, setPushError] = useState<UiError | null>(null);
  const [pushLive, setPushLive] = useState<Schemas["SyncRunDto"] | null>(null);
  const refresh = () => setVersion((v) => v + 1);
  const path = { slug };

  useEffect(() => {
    call(session.api.GET("/api/v1/projects/{slug}", { params: { path } }))
      .then(setProject)
      .catch((e) => setError(asUiError(e)));
  }, [version]);

  const cursor = cursors[cursors.length - 1] ?? null;
  const key = `${cursors.length}:${cursor ?? ""}:${version}`;
  const loading = loadedKey !== key;
  useEffect(() => {
    const query = { limit: PAGE_SIZE, ...(cursor ? { cursor } : {}) };
    call(session.api.GET("/api/v1/projects/{slug}/tasks", { params: { path, query } }))
      .then((list) => {
        setPage(list);
        setLoadedKey(key);
      })
      .catch((e) => setError(asUiError(e)));
  }, [cursor, version]);

  const push = async () => {
    setPushing(true);
    setPushError(null);
    setPushResult(null);
    try {
      const answer = await call(
        session.api.POST("/api/v1/projects/{slug}/github/push", { params: { path, header: { Prefer: "wait=60" } } }),
      );
      if (isRun(answer)) {
        const run = await followRun(session.api, path.slug, answer, setPushLive);
        setPushResult({ sync_run_id: run.id, repo: run.repo, created: run.created, skipped: run.skipped });
      } else {
        setPushResult(answer);
      }
      refresh();
    } catch (e) {
      setPushError(asUiError(e));
    } finally {
      setPushing(false);
    }
  };

  if (error && !project) return <ErrorBox error={error} />;
  if (!project) return <p role="status">Loading project…</p>;
  const pageNumber = cursors.length;
  return (
    <section aria-labelledby="tasks-title">
      <header class="page-header">
        <div>
          <h1 id="tasks-title">{project.name}</h1>
          <p class="meta">
            <code>{project.slug}</code> · GitHub repository:{" "}
            {project.github_repo ? <strong>{project.github_repo}</strong> : "none"}
          </p>
        </div>
        <div class="actions">
          <button type="button" onClick={() => setEditing("new")}>
            New task
          </button>
          <button type="button" onClick={() => setSyncOpen(true)}>
            Sync with GitHub
          </button>
          <button type="button" onClick={() => void push()} disabled={pushing} aria-busy={pushing}>
            Push to GitHub
          </button>
        </div>
      </header>
      {project.description && <p class="description">{project.description}</p>}
      {pushing && (
        <p role="status" class="progress">
          Pushing tasks to GitHub…
          {pushLive && ` ${pushLive.status} · ${pushLive.progress.tasks_done ?? 0} pushed, ${pushLive.progress.tasks_remaining ?? "?"} to go`}
        </p>
      )}
      {pushResult && (
        <p role="status" class="success">
          Pushed to {pushResult.repo}: {pushResult.created} created, {pushResult.skipped} already linked.
        </p>
      )}
      <ErrorBox error={pushError} />
      <ErrorBox error={error} />

      <h2>Tasks</h2>
      {page === null && <p role="status">Loading tasks…</p>}
      {page && page.items.length === 0 && pageNumber === 1 && (
        <p>No tasks yet: create one, or sync the project with GitHub.</p>
      )}
      {page && page.items.length > 0 && (
        <table class="list tasks" aria-label="Tasks" aria-busy={loading}>
          <thead>
            <tr>
              <th scope="col">#</th>
              <th scope="col">Title</th>
              <th scope="col">Status</th>
              <th scope="col">Priority</th>
              <th scope="col">Labels</th>
              <th scope="col">GitHub</th>
              <th scope="col">
                <span class="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {page.items.map((t) => {
              const link = t.external_links.find((l) => l.provider === "github");
              return (
                <tr key={t.id} data-task={t.number}>
                  <td>{t.number}</td>
                  <td>{t.title}</td>
                  <td>
                    <span class={`status status-${t.status}`}>{t.status.replace("_", " ")}</span>
                  </td>
                  <td>{t.priority}</td>
                  <td>
                    {t.labels.map((l) => (
                      <span class="label" key={l}>
                        {l}
                      </span>
                    ))}
                  </td>
                  <td>
                    {link ? (
                      <a href={link.url} target="_blank" rel="noopener noreferrer">
                        {link.reference}
                      </a>
                    ) : (
                      "—"
                    )}
                  </td>
                  <td>
                    <button
                      type="button"
                      class="secondary small"
                      aria-label={`Edit task ${t.number}`}
                      onClick={() => setEditing(t)}
                    >
                      Edit
                    </button>
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
      {page && (pageNumber > 1 || page.next_cursor) && (
        <nav class="pager" aria-label="Task pages">
          <button
            type="button"
            class="secondary"
            disabled={loading || pageNumber === 1}
            onClick={() => setCursors((c) => c.slice(0, -1))}
          >
            Previous page
          </button>
          <span aria-live="polite">{loading ? "Loading…" : `Page ${pageNumber}`}</span>
          <button
            type="button"
            class="secondary"
            disabled={loading || !page.next_cursor}
            onClick={() => page.next_cursor && setCursors((c) => [...c, page.next_cursor ?? null])}
          >
            Next page
          </button>
        </nav>
      )}

      <SyncHistory session={session} slug={slug} version={version} />
      {session.isAdmin && <ProjectAdmin session={session} project={project} onChange={refresh} />}
      {!session.isAdmin && <SpecPanel session={session} slug={slug} />}

      {syncOpen && (
        <SyncDialog
          session={session}
          project={project}
          onClose={() => setSyncOpen(false)}
          onSynced={refresh}
        />
      )}
      {editing && (
        <TaskDialog
          session={session}
          slug={slug}
          task={editing === "new" ? null : editing}
          onClose={() => setEditing(null)}
          onSaved={() => {
            setEditing(null);
            refresh();
          }}
        />
      )}
    </section>
  );
}

function TaskDialog(props: {
  session: Session;
  slug: string;
  task: Task | null;
  onClose: () => void;
  onSaved: () => void;
}) {
  const t = props.task;
  const [title, setTitle] = useState(t?.title ?? "");
  const [description, setDescription] = useState(t?.description ?? "");
  const [status, setStatus] = useState<Schemas["TaskStatusDto"]>(t?.status ?? "todo");
  const [priority, setPriority] = useState<Schemas["PriorityDto"]>(t?.priority ?? "none");
  const [labels, setLabels] = useState((t?.labels ?? []).join(", "));
  const [error, setError] = useState<UiError | null>(null);
  const [busy, setBusy] = useState(false);

  const save = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    const body = {
      title,
      description,
      status,
      priority,
      labels: labels
        .split(",")
        .map((l) => l.trim())
        .filter(Boolean),
    };
    try {
      if (t) {
        await call(
          props.session.api.PATCH("/api/v1/projects/{slug}/tasks/{number}", {
            params: { path: { slug: props.slug, number: t.number } },
            body,
          }),
        );
      } else {
        await call(
          props.session.api.POST("/api/v1/projects/{slug}/tasks", { params: { path: { slug: props.slug } }, body }),
        );
      }
      props.onSaved();
    } catch (err) {
      setError(asUiError(err));
      setBusy(false);
    }
  };

  return (
    <Dialog title={t ? `Edit task ${t.number}` : "New task"} onClose={props.onClose}>
      <form onSubmit={save}>
        <Field label="Title" id="task-title">
          <input id="task-title" required value={title} onInput={(e) => setTitle(e.currentTarget.value)} />
        </Field>
        <Field label="Description" id="task-description">
          <textarea
            id="task-description"
            rows={4}
            value={description}
            onInput={(e) => setDescription(e.currentTarget.value)}
          />
        </Field>
        <div class="row">
          <Field label="Status" id="task-status">
            <select
              id="task-status"
              value={status}
              onChange={(e) => setStatus(e.currentTarget.value as Schemas["TaskStatusDto"])}
            >
              {STATUSES.map((s) => (
                <option key={s} value={s}>
                  {s.replace("_", " ")}
                </option>
              ))}
            </select>
          </Field>
          <Field label="Priority" id="task-priority">
            <select
              id="task-priority"
              value={priority}
              onChange={(e) => setPriority(e.currentTarget.value as Schemas["PriorityDto"])}
            >
              {PRIORITIES.map((p) => (
                <option key={p} value={p}>
                  {p}
                </option>
              ))}
            </select>
          </Field>
        </div>
        <Field label="Labels" id="task-labels" hint="Comma-separated, e.g. bug, db">
          <input
            id="task-labels"
            value={labels}
            aria-describedby="task-labels-hint"
            onInput={(e) => setLabels(e.currentTarget.value)}
          />
        </Field>
        <ErrorBox error={error} />
        <div class="dialog-actions">
          <button type="submit" disabled={busy}>
            {t ? "Save task" : "Create task"}
          </button>
          <button type="button" class="secondary" onClick={props.onClose}>
            Cancel
          </button>
        </div>
      </form>
    </Dialog>
  );
}

function SyncHistory({ session, slug, version }: { session: Session; slug: string; version: number }) {
  const [runs, setRuns] = useState<Schemas["SyncRunDto"][] | null>(null);
  const [error, setError] = useState<UiError | null>(null);
  useEffect(() => {
    call(session.api.GET("/api/v1/projects/{slug}/github/sync-runs", { params: { path: { slug }, query: { limit: 20 } } }))
      .then((list) => setRuns(list.items))
      .catch((e) => setError(asUiError(e)));
  }, [version]);
  return (
    <section aria-labelledby="history-title" class="history">
      <h2 id="history-title">Sync history</h2>
      <ErrorBox error={error} />
      {runs && runs.length === 0 && <p>No imports or pushes yet.</p>}
      {runs && runs.length > 0 && (
        <table class="list" aria-label="Sync history">
          <thead>
            <tr>
              <th scope="col">Started</th>
              <th scope="col">Kind</th>
              <th scope="col">Repository</th>
              <th scope="col">Status</th>
              <th scope="col">Created</th>
              <th scope="col">Skipped</th>
              <th scope="col">Pull requests ignored</th>
            </tr>
          </thead>
          <tbody>
            {runs.map((r) => (
              <tr key={r.id}>
                <td>{formatTime(r.started_at)}</td>
                <td>{r.kind}</td>
                <td>{r.repo}</td>
                <td>
                  <span class={`status run-${r.status}`}>{r.status}</span>
                  {r.error_code && <code> {r.error_code}</code>}
                </td>
                <td>{r.created}</td>
                <td>{r.skipped}</td>
                <td>{r.pull_requests_ignored}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

function SpecPanel({ session, slug, admin }: { session: Session; slug: string; admin?: boolean }) {
  const [spec, setSpec] = useState<Schemas["SpecDto"] | null>(null);
  const [outcome, setOutcome] = useState<Schemas["RepositoryDto"] | null>(null);
  const [error, setError] = useState<UiError | null>(null);
  const [busy, setBusy] = useState(false);
  const path = { slug };
  useEffect(() => {
    call(session.api.GET("/api/v1/projects/{slug}/spec", { params: { path } }))
      .then(setSpec)
      .catch((e) => setError(asUiError(e)));
  }, []);
  const run = async (action: "submit" | "approve") => {
    setBusy(true);
    setError(null);
    try {
      if (action === "submit") {
        setSpec(await call(session.api.POST("/api/v1/projects/{slug}/spec/submit", { params: { path } })));
      } else {
        const answer = await call(session.api.POST("/api/v1/projects/{slug}/approve", { params: { path } }));
        setSpec(answer.spec);
        setOutcome(answer.repository);
      }
    } catch (e) {
      setError(asUiError(e));
    } finally {
      setBusy(false);
    }
  };
  return (
    <div class="card">
      <h3>Spec</h3>
      {spec && (
        <p>
          Status: <strong>{spec.status}</strong> (updated {formatTime(spec.updated_at)})
        </p>
      )}
      <button type="button" class="secondary" disabled={busy || spec?.status !== "draft"} onClick={() => void run("submit")}>
        Submit spec
      </button>
      {admin && (
        <button type="button" disabled={busy || spec?.status === "draft"} onClick={() => void run("approve")}>
          Approve spec
        </button>
      )}
      {outcome && (
        <p role="status" class={outcome.outcome === "failed" ? "warning" : "success"}>
          Repository: {outcome.outcome === "created" && <>created {outcome.full_name}</>}
          {outcome.outcome === "already_set" && <>already set ({outcome.full_name})</>}
          {outcome.outcome === "failed" && (
            <>
              not created ({outcome.error_code}). The spec is approved; approve again to retry. {outcome.error_code ? hintLine(outcome.error_code) : ""}
            </>
          )}
        </p>
      )}
      <ErrorBox error={error} />
    </div>
  );
}

function hintLine(code: string): string {
  return asUiError({ code, status: 0, detail: "", title: "", type: "" }).hint;
}

function ProjectAdmin({ session, project, onChange }: { session: Session; project: Project; onChange: () => void }) {
  const [repo, setRepo] = useState(project.github_repo ?? "");
  const [error, setError] = useState<UiError | null>(null);
  const [saved, setSaved] = useState<string | null>(null);
  const path = { slug: project.slug };
  const save = async (e: Event) => {
    e.preventDefault();
    setError(null);
    setSaved(null);
    try {
      const p = await call(
        session.api.PUT("/api/v1/projects/{slug}/github-repo", { params: { path }, body: { full_name: repo.trim() } }),
      );
      setSaved(`Repository set to ${p.github_repo ?? ""}.`);
      onChange();
    } catch (err) {
      setError(asUiError(err));
    }
  };
  const clear = async () => {
    setError(null);
    setSaved(null);
    try {
      await call(session.api.DELETE("/api/v1/projects/{slug}/github-repo", { params: { path } }));
      setRepo("");
      setSaved("Repository cleared.");
      onChange();
    } catch (err) {
      setError(asUiError(err));
    }
  };
  return (
    <section aria-labelledby="admin-title" class="admin">
      <h2 id="admin-title">Project administration</h2>
      <form class="card" onSubmit={save}>
        <h3>GitHub repository</h3>
        <Field label="Project repository" id="project-repo" hint="owner/name; checked on GitHub before it is saved">
          <input
            id="project-repo"
            value={repo}
            placeholder="owner/name"
            aria-describedby="project-repo-hint"
            onInput={(e) => setRepo(e.currentTarget.value)}
          />
        </Field>
        <button type="submit" disabled={repo.trim() === ""}>
          Set repository
        </button>
        <button type="button" class="secondary" disabled={!project.github_repo} onClick={() => void clear()}>
          Clear repository
        </button>
        {saved && (
          <p role="status" class="success">
            {saved}
          </p>
        )}
        <ErrorBox error={error} />
      </form>
      <SpecPanel session={session} slug={project.slug} admin />
    </section>
  );
}
