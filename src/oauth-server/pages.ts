/**
 * @module The pages a person sees: sign-in with consent, consent alone (signed in already, or
 * federated), and errors. Server-rendered, no JavaScript, every dynamic value HTML-escaped —
 * branding and login_template included — and sent with a CSP that allows only the page's own
 * nonce-tagged stylesheet, no framing and no referrer.
 *
 * Text from clients and other servers (client_name, the redirect host, scopes, error messages) is
 * shown with its invisible characters (bidi controls, zero-width characters, separators: see
 * util/invisible-text.ts) replaced by U+FFFD, and, inside a sentence, in `<bdi>`: a right-to-left
 * or direction-forcing name then cannot reorder the words around it ("X wants to use …"), as the
 * W3C's advice for text of unknown direction has it. Registration refuses such names already;
 * this covers the rest (names registered before, what a template shows, messages quoting others).
 *
 * The form's field names (request_id, csrf_token, username, password, action=allow|deny) are an
 * interface: browser tests and login templates rely on them.
 */
import type { OAuthServerConfig } from "../config/schema.ts";
import { showInvisible } from "../util/invisible-text.ts";
import { randomToken } from "./random.ts";

type Branding = OAuthServerConfig["builtin"]["branding"];

/** A CSS colour: hex, a name, or rgb()/hsl() with plain numbers — nothing that could close the rule. */
export const CSS_COLOR = /^(#[0-9a-fA-F]{3,8}|[a-zA-Z]{1,30}|(rgb|rgba|hsl|hsla)\(\s*[0-9.%]+(\s*[ ,/]\s*[0-9.%]+){2,3}\s*\))$/;

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"'`=]/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** Outside text as page text: invisible characters shown as U+FFFD, then HTML-escaped. */
function visibleText(text: string): string {
  return escapeHtml(showInvisible(text));
}

/** Outside text inside a sentence: {@link visibleText}, isolated so its direction cannot reorder the sentence. */
function isolated(text: string): string {
  return `<bdi>${visibleText(text)}</bdi>`;
}

/**
 * Outside text for a login_template placeholder, which may stand where markup cannot (a title, an
 * attribute): isolated with FIRST STRONG ISOLATE … POP DIRECTIONAL ISOLATE (U+2068, U+2069), the
 * characters `<bdi>` stands for.
 */
function isolatedPlain(text: string): string {
  return `\u2068${showInvisible(text)}\u2069`;
}

/** What a sign-in or consent page shows. */
export interface ConsentView {
  requestId: string;
  csrfToken: string;
  clientName: string;
  /** The host the browser is sent back to (shown so the user can spot an impostor). */
  redirectHost: string;
  /**
   * For a client named by a metadata document (its client_id an https URL): the host that
   * publishes it. Anyone can publish a document calling itself "Claude"; the host says who did.
   */
  documentHost?: string;
  /** The redirect goes to this computer (localhost): any local program could be posing as the named client. */
  loopbackRedirect: boolean;
  scopes: string[];
  /** Ask for username and password (false: consent only). */
  askCredentials: boolean;
  /** Shown above the form (e.g. "wrong username or password"). */
  error?: string;
  /** Federated mode, before the sign-in: the name of the upstream provider the button continues to. */
  upstreamName?: string;
  /** Federated mode, back from the provider: who signed in (their email, else their subject) at which provider (its host). */
  signedIn?: { account: string; provider: string };
  /** The username to prefill after a failed attempt. */
  username?: string;
}

const DEFAULTS = {
  page_title: "Sign in",
  heading: "Sign in",
  subtitle: "",
  username_label: "Username",
  password_label: "Password",
  button_text: "Sign in and allow",
  footer_text: "",
  primary_color: "#1f4fd1",
  secondary_color: "#f4f6fb",
};

export interface PageRenderer {
  consent(view: ConsentView): Response;
  error(status: number, title: string, message: string): Response;
}

/**
 * Builds the renderer. `template` is the login_template's text: placeholders `{{name}}` are
 * replaced by escaped text, `{{hidden_fields}}` by the form's hidden inputs and `{{nonce}}` by the
 * CSP nonce for its own <style> elements.
 */
export function createPageRenderer(branding: Branding, template: string | undefined): PageRenderer {
  const brand = { ...DEFAULTS, ...Object.fromEntries(Object.entries(branding).filter(([, value]) => value !== undefined)) } as typeof DEFAULTS;

  function send(status: number, html: string, nonce: string): Response {
    return new Response(html, {
      status,
      headers: {
        "content-type": "text/html; charset=utf-8",
        "content-security-policy": `default-src 'none'; style-src 'nonce-${nonce}'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'`,
        "x-frame-options": "DENY",
        "referrer-policy": "no-referrer",
        "x-content-type-options": "nosniff",
        "cache-control": "no-store",
      },
    });
  }

  function style(nonce: string): string {
    return `<style nonce="${nonce}">
body{font-family:system-ui,sans-serif;background:${brand.secondary_color};margin:0;padding:2rem 1rem;color:#1b1b1b}
main{max-width:26rem;margin:0 auto;background:#fff;border-radius:8px;padding:1.5rem 2rem;box-shadow:0 1px 4px rgba(0,0,0,.15)}
h1{font-size:1.4rem;margin:0 0 .5rem}label{display:block;margin:.8rem 0 .2rem;font-weight:600}
input[type=text],input[type=password]{width:100%;box-sizing:border-box;padding:.5rem;font-size:1rem;border:1px solid #767676;border-radius:4px}
input:focus,button:focus{outline:3px solid ${brand.primary_color};outline-offset:2px}
.actions{display:flex;gap:.5rem;margin-top:1.2rem}
button{padding:.6rem 1rem;font-size:1rem;border-radius:4px;border:1px solid ${brand.primary_color};cursor:pointer}
button[value=allow]{background:${brand.primary_color};color:#fff}button[value=deny]{background:#fff;color:#1b1b1b}
.error{background:#fde8e8;border:1px solid #b00020;color:#7a0016;padding:.5rem;border-radius:4px}
.warning{background:#fff4e0;border:1px solid #8a5a00;padding:.5rem;border-radius:4px}.client{background:#f2f2f2;padding:.6rem;border-radius:4px}footer{margin-top:1rem;font-size:.85rem;color:#555}
</style>`;
  }

  function hiddenFields(view: ConsentView): string {
    return `<input type="hidden" name="request_id" value="${escapeHtml(view.requestId)}"><input type="hidden" name="csrf_token" value="${escapeHtml(view.csrfToken)}">`;
  }

  function consentBody(view: ConsentView): string {
    const scopes = view.scopes.length > 0 ? `<ul>${view.scopes.map((scope) => `<li><code>${isolated(scope)}</code></li>`).join("")}</ul>` : "<p>No scopes: the application gets no access of yours.</p>";
    const error = view.error ? `<p class="error" role="alert" id="form-error">${visibleText(view.error)}</p>` : "";
    const described = view.error ? ' aria-describedby="form-error"' : "";
    const credentials = view.askCredentials
      ? `<label for="username">${escapeHtml(brand.username_label)}</label><input type="text" id="username" name="username" autocomplete="username" autocapitalize="none" spellcheck="false" required value="${escapeHtml(view.username ?? "")}"${described}>
<label for="password">${escapeHtml(brand.password_label)}</label><input type="password" id="password" name="password" autocomplete="current-password" required${described}>`
      : "";
    const allowHtml = view.askCredentials ? escapeHtml(brand.button_text) : view.upstreamName ? `Continue to ${isolated(view.upstreamName)}` : "Allow";
    const signedIn = view.signedIn ? `<p>You signed in at <strong>${isolated(view.signedIn.provider)}</strong> as <strong>${isolated(view.signedIn.account)}</strong>.</p>\n` : "";
    return `<h1>${escapeHtml(brand.heading)}</h1>
${brand.subtitle ? `<p>${escapeHtml(brand.subtitle)}</p>` : ""}
${signedIn}<section class="client" aria-label="Application requesting access"><p><strong>${isolated(view.clientName)}</strong> wants to use this MCP server on your behalf.</p>
${view.documentHost ? `<p>It is described by <strong>${isolated(view.documentHost)}</strong>, which chose that name.</p>\n` : ""}<p>After you allow it, your browser goes back to <strong>${isolated(view.redirectHost)}</strong>.</p>
${view.loopbackRedirect ? '<p class="warning" role="note">This application runs on your own computer. Continue only if you just started it yourself: any program on this computer could use this name.</p>' : ""}
<p>Access requested:</p>${scopes}</section>
${error}
<form method="post" action="/oauth/authorize">
${hiddenFields(view)}
${credentials}
<div class="actions"><button type="submit" name="action" value="allow">${allowHtml}</button><button type="submit" name="action" value="deny" formnovalidate>Deny</button></div>
</form>
${brand.footer_text ? `<footer>${escapeHtml(brand.footer_text)}</footer>` : ""}`;
  }

  function page(title: string, body: string, nonce: string): string {
    return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><meta name="referrer" content="no-referrer">
<title>${escapeHtml(title)}</title>${style(nonce)}</head>
<body><main>${body}</main></body></html>`;
  }

  return {
    consent(view) {
      const nonce = randomToken(16);
      // The confirmation after a federated sign-in is always this page: it must name the account,
      // and a login_template, made for the sign-in, would look like that again (asking for a password).
      if (template === undefined || view.signedIn) return send(view.error ? 400 : 200, page(brand.page_title, consentBody(view), nonce), nonce);
      const values: Record<string, string> = {
        page_title: brand.page_title,
        heading: brand.heading,
        subtitle: brand.subtitle,
        username_label: brand.username_label,
        password_label: brand.password_label,
        button_text: brand.button_text,
        footer_text: brand.footer_text,
        primary_color: brand.primary_color,
        secondary_color: brand.secondary_color,
        client_name: isolatedPlain(view.clientName),
        redirect_host: isolatedPlain(view.redirectHost),
        document_host: view.documentHost === undefined ? "" : isolatedPlain(view.documentHost),
        scopes: view.scopes.map(isolatedPlain).join(" "),
        error: showInvisible(view.error ?? ""),
        username: view.username ?? "",
      };
      const html = template.replace(/\{\{\s*([a-z_]+)\s*\}\}/g, (whole, name: string) => {
        if (name === "hidden_fields") return hiddenFields(view);
        if (name === "nonce") return nonce;
        return Object.hasOwn(values, name) ? escapeHtml(values[name]!) : whole;
      });
      return send(view.error ? 400 : 200, html, nonce);
    },
    error(status, title, message) {
      const nonce = randomToken(16);
      return send(status, page(title, `<h1>${escapeHtml(title)}</h1><p role="alert">${visibleText(message)}</p>`, nonce), nonce);
    },
  };
}
