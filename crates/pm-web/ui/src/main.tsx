import "./style.css";
import { render } from "preact";
import { useEffect, useState } from "preact/hooks";
import type { PmhubClient, Schemas } from "@pmhub/client";
import { asUiError, call, client, forgetToken, storeToken, storedToken, type UiError } from "./api";
import { ErrorBox, Field, formatTime } from "./common";
import { href, navigate, onLinkClick, useRoute } from "./router";
import { TasksPage } from "./tasks";

export interface Session {
  api: PmhubClient;
  me: Schemas["MeDto"];
  isAdmin: boolean;
  signOut: () => void;
}

function App() {
  const [session, setSession] = useState<Session | null>(null);
  const [checking, setChecking] = useState(() => storedToken() !== null);

  const signOut = () => {
    forgetToken();
    setSession(null);
    navigate({ page: "projects" });
  };

  const signIn = async (token: string): Promise<void> => {
    const api = client(token);
    const me = await call(api.GET("/api/v1/me"));
    storeToken(token);
    setSession({ api, me, isAdmin: me.role === "admin", signOut });
  };

  useEffect(() => {
    const token = storedToken();
    if (!token) return;
    signIn(token)
      .catch(() => forgetToken())
      .finally(() => setChecking(false));
  }, []);

  if (checking) return <p class="loading" role="status">Signing in…</p>;
  if (!session) return <SignIn onSignIn={signIn} />;
  return <Shell session={session} />;
}

function SignIn({ onSignIn }: { onSignIn: (token: string) => Promise<void> }) {
  const [token, setToken] = useState("");
  const [error, setError] = useState<UiError | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await onSignIn(token.trim());
    } catch (err) {
      setError(asUiError(err));
      setBusy(false);
    }
  };
  return (
    <main class="signin">
      <h1>pmhub</h1>
      <form onSubmit={submit} aria-label="Sign in">
        <Field
          label="API token"
          id="api-token"
          hint="Paste a pmhub API token (pmhub bootstrap prints one). It is kept in this tab only."
        >
          <input
            id="api-token"
            type="password"
            autocomplete="off"
            required
            value={token}
            aria-describedby="api-token-hint"
            onInput={(e) => setToken(e.currentTarget.value)}
          />
        </Field>
        <button type="submit" disabled={busy || token.trim() === ""}>
          Sign in
        </button>
        <ErrorBox error={error} />
      </form>
    </main>
  );
}

function Shell({ session }: { session: Session }) {
  const route = useRoute();
  return (
    <>
      <header class="topbar">
        <a class="brand" href={href({ page: "projects" })} onClick={onLinkClick({ page: "projects" })}>
          pmhub
        </a>
        <nav aria-label="Main">
          <a href={href({ page: "projects" })} onClick={onLinkClick({ page: "projects" })}>
            Projects
          </a>
          {session.isAdmin && (
            <a href={href({ page: "settings" })} onClick={onLinkClick({ page: "settings" })}>
              Settings
            </a>
          )}
        </nav>
        <span class="who">
          {session.me.email} · {session.me.role} · {session.me.workspace.name}
        </span>
        <button type="button" class="secondary" onClick={session.signOut}>
          Sign out
        </button>
      </header>
      <main>
        {route.page === "projects" && <ProjectsPage session={session} />}
        {route.page === "tasks" && <TasksPage key={route.slug} session={session} slug={route.slug} />}
        {route.page === "settings" && <SettingsPage session={session} />}
      </main>
    </>
  );
}

function ProjectsPage({ session }: { session: Session }) {
  const [projects, setProjects] = useState<Schemas["ProjectDto"][] | null>(null);
  const [cursor, setCursor] = useState<string | null>(null);
  const [error, setError] = useState<UiError | null>(null);
  const [name, setName] = useState("");
  const [description, setDescription] = useState("");
  const [createError, setCreateError] = useState<UiError | null>(null);

  const load = async (after: string | null) => {
    try {
      const page = await call(
        session.api.GET("/api/v1/projects", { params: { query: { limit: 50, ...(after ? { cursor: after } : {}) } } }),
      );
      setProjects((old) => (after && old ? [...old, ...page.items] : page.items));
      setCursor(page.next_cursor ?? null);
    } catch (e) {
      setError(asUiError(e));
    }
  };
  useEffect(() => {
    void load(null);
  }, []);

  const create = async (e: Event) => {
    e.preventDefault();
    setCreateError(null);
    try {
      const project = await call(
        session.api.POST("/api/v1/projects", { body: { name, description: description || null } }),
      );
      navigate({ page: "tasks", slug: project.slug });
    } catch (err) {
      setCreateError(asUiError(err));
    }
  };

  return (
    <section aria-labelledby="projects-title">
      <h1 id="projects-title">Projects</h1>
      <ErrorBox error={error} />
      {projects === null && !error && <p role="status">Loading projects…</p>}
      {projects && projects.length === 0 && <p>No projects yet. Create the first one below.</p>}
      {projects && projects.length > 0 && (
        <table class="list">
          <thead>
            <tr>
              <th scope="col">Project</th>
              <th scope="col">Slug</th>
              <th scope="col">GitHub repository</th>
              <th scope="col">Created</th>
            </tr>
          </thead>
          <tbody>
            {projects.map((p) => (
              <tr key={p.id}>
                <td>
                  <a href={href({ page: "tasks", slug: p.slug })} onClick={onLinkClick({ page: "tasks", slug: p.slug })}>
                    {p.name}
                  </a>
                </td>
                <td>
                  <code>{p.slug}</code>
                </td>
                <td>{p.github_repo ?? "—"}</td>
                <td>{formatTime(p.created_at)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {cursor && (
        <button type="button" class="secondary" onClick={() => void load(cursor)}>
          More projects
        </button>
      )}
      <form class="card" onSubmit={create} aria-labelledby="new-project-title">
        <h2 id="new-project-title">New project</h2>
        <Field label="Project name" id="project-name">
          <input id="project-name" required value={name} onInput={(e) => setName(e.currentTarget.value)} />
        </Field>
        <Field label="Project description" id="project-description">
          <textarea
            id="project-description"
            rows={2}
            value={description}
            onInput={(e) => setDescription(e.currentTarget.value)}
          />
        </Field>
        <button type="submit">Create project</button>
        <ErrorBox error={createError} />
      </form>
    </section>
  );
}

function SettingsPage({ session }: { session: Session }) {
  const [connection, setConnection] = useState<Schemas["ConnectionDto"] | null>(null);
  const [state, setState] = useState<"loading" | "connected" | "none">("loading");
  const [token, setToken] = useState("");
  const [error, setError] = useState<UiError | null>(null);
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    call(session.api.GET("/api/v1/integrations/github"))
      .then((c) => {
        setConnection(c);
        setState("connected");
      })
      .catch((e) => {
        const err = asUiError(e);
        if (err.code !== "INTEGRATION_NOT_CONNECTED") setError(err);
        setState("none");
      });
  }, []);

  const connect = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const c = await call(session.api.POST("/api/v1/integrations/github", { body: { token: token.trim() } }));
      setConnection(c);
      setState("connected");
      setToken("");
    } catch (err) {
      setError(asUiError(err));
    } finally {
      setBusy(false);
    }
  };
  const disconnect = async () => {
    setError(null);
    try {
      await call(session.api.DELETE("/api/v1/integrations/github"));
      setConnection(null);
      setState("none");
    } catch (err) {
      setError(asUiError(err));
    }
  };

  if (!session.isAdmin) return <p>Only admins can change settings.</p>;
  return (
    <section aria-labelledby="settings-title">
      <h1 id="settings-title">Settings</h1>
      <div class="card">
        <h2>GitHub connection</h2>
        {state === "loading" && <p role="status">Loading…</p>}
        {state === "connected" && connection && (
          <p class="connection" role="status">
            Connected as <strong>{connection.account_login}</strong> with a token ending in{" "}
            <code>…{connection.token_hint}</code> since {formatTime(connection.connected_at)}.
          </p>
        )}
        {state === "none" && <p>Not connected: imports and pushes need a GitHub token.</p>}
        <form onSubmit={connect}>
          <Field
            label="GitHub token"
            id="github-token"
            hint="A personal access token; it is verified with GitHub, stored encrypted and never shown again."
          >
            <input
              id="github-token"
              type="password"
              autocomplete="off"
              required
              value={token}
              aria-describedby="github-token-hint"
              onInput={(e) => setToken(e.currentTarget.value)}
            />
          </Field>
          <button type="submit" disabled={busy || token.trim() === ""}>
            {state === "connected" ? "Replace GitHub token" : "Connect GitHub"}
          </button>
          {state === "connected" && (
            <button type="button" class="secondary" onClick={() => void disconnect()}>
              Disconnect GitHub
            </button>
          )}
        </form>
        <ErrorBox error={error} />
      </div>
    </section>
  );
}

render(<App />, document.getElementById("app")!);
