/**
 * The shape every request body to /slack/events must have before Bolt sees it. Bolt's receiver reads fields of
 * the parsed body outside any handler (`body.ssl_check`), so a signed body that parses to JSON `null` throws there:
 * no answer and an unhandled rejection. This module refuses such bodies; it parses exactly as Bolt does
 * (`HTTPModuleFunctions.parseHTTPRequestBody`), so what it accepts Bolt can read. It does not check signatures.
 */
import { parse as parseQuery } from 'node:querystring';
import { z } from 'zod';
import { MalformedSlackRequestError } from '../errors.js';

// Bolt compares the header as is: `application/x-www-form-urlencoded; charset=utf-8` is parsed as JSON by it too.
const FORM_CONTENT_TYPE = 'application/x-www-form-urlencoded';

/** Slash commands and interactions: every field once, as a string (a repeated key would become an array). */
const formFields = z.record(z.string(), z.string());
/** Interaction payloads and Events API bodies: always a JSON object, never null, a scalar or a list. */
const jsonObject = z.record(z.string(), z.unknown());

function parseJson(text: string): { ok: true; value: unknown } | { ok: false } {
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch {
    return { ok: false };
  }
}

/** Undefined when Bolt can read the body; otherwise the reason it is refused (never quoting the body). */
export function slackBodyProblem(
  contentType: string | undefined,
  rawBody: string,
): MalformedSlackRequestError | undefined {
  if (contentType === FORM_CONTENT_TYPE) {
    const fields = formFields.safeParse(parseQuery(rawBody));
    if (!fields.success) return new MalformedSlackRequestError('a form field is given more than once');
    const { payload } = fields.data;
    if (payload === undefined) return undefined;
    const parsed = parseJson(payload);
    if (!parsed.ok) return new MalformedSlackRequestError('the interaction payload is not JSON');
    if (!jsonObject.safeParse(parsed.value).success) {
      return new MalformedSlackRequestError(`the interaction payload is ${jsonKind(parsed.value)}, not a JSON object`);
    }
    return undefined;
  }
  const parsed = parseJson(rawBody);
  if (!parsed.ok) return new MalformedSlackRequestError('the body is neither a form nor JSON');
  if (!jsonObject.safeParse(parsed.value).success) {
    return new MalformedSlackRequestError(`the JSON body is ${jsonKind(parsed.value)}, not an object`);
  }
  return undefined;
}

function jsonKind(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  return `a ${typeof value}`;
}
