/**
 * Errors as OpenAI-style JSON bodies: {"error": {"message", "type", "param", "code"}} with a
 * meaningful status. Every failure a client can cause is a 4xx that names what is wrong.
 */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly type = status >= 500 ? "server_error" : "invalid_request_error",
    readonly param: string | null = null,
    readonly code: string | null = null,
  ) {
    super(message);
    this.name = "HttpError";
  }
}

export function errorResponse(e: HttpError, headers: Record<string, string> = {}): Response {
  return Response.json({ error: { message: e.message, type: e.type, param: e.param, code: e.code } }, { status: e.status, headers });
}
