// Which versions of the workflow code a conversation's history may have been recorded under.
//
// The baseline is Parley 0.1.0's workflow code: it was never released, so no conversation started
// under anything older, and a history recorded under the baseline holds no patch marker.
//
// Patch policy:
// 1. A workflow change that alters the commands a running conversation issues (an activity, timer,
//    marker, upsert, child or continue-as-new added, removed, reordered or given other options) goes
//    behind Temporal's patched(id): the old code stays on the `false` branch, so a conversation that
//    started before the deploy replays under it. The id is listed in PATCHES below, with what it
//    changed; code passes PATCHES.<name>, never a string of its own.
// 2. The change lands with a recorded history that exercises the new branch (`npm run
//    record-histories`; its manifest lists the patch ids its histories hold), and the histories it
//    changes are first copied to test/histories/kept/, where they keep replaying the old branch. test/replay fails when
//    the bundle's code changed since the histories were recorded, and when an id below appears in
//    no recorded history.
// 3. Once no running conversation can predate the patch (the longest conversation plus retention
//    after the deploy), the old branch goes: patched(id) becomes deprecatePatch(id) and the id moves
//    to DEPRECATED_PATCHES, so conversations that started in between still replay.
// 4. Once no running conversation can predate the deprecation either, the deprecatePatch call and
//    the id go too.
// A change that alters no command (a rule of the record, a log line, a validator) needs no patch,
// but still needs the histories recorded again, which proves it replays. Nor does a new branch
// chosen by a field of an activity's recorded result that the old code's result never had (the
// final batch's `export`): an old history replays its recorded result and takes the old branch;
// its histories are copied to test/histories/kept/ all the same.

/** Ids passed to patched(): each names a change made while conversations were running. */
export const PATCHES = {
  /**
   * A digital conversation ends when the destination's end phrase is found in a message (Webex
   * Connect searches the text message for it), no longer only when the message is exactly "End
   * Conversation": such a message now closes the conversation and ends its task instead of being
   * appended.
   */
  endPhraseSearch: 'end-phrase-search',
  /**
   * A failed CRM Workflow Execute takes the branch of its last attempt when the budget ends: an
   * answer (5xx, refused, reset) is InternalError with its status and attempts, only a call still
   * waiting is Timeout (before: every failure that outlived the budget was Timeout).
   */
  crmOutcomeOfLastAttempt: 'crm-outcome-of-last-attempt',
  /**
   * A digital conversation's first inbound message creates its routing task (CCE Create Task, one
   * routing activity) when its destination has a script selector; before, Parley waited for the
   * platform's CREATED.
   */
  digitalCreateTask: 'digital-create-task',
  /** A TRANSFERRED of a task Parley created re-submits it under the same taskId (one routing activity before the notice). */
  digitalResubmitTask: 'digital-resubmit-task',
  /**
   * A destination's welcome menu is sent before the task is created (a notification, and a timer
   * that takes the default selector when no choice comes); the reply picks the script selector.
   */
  digitalWelcomeMenu: 'digital-welcome-menu',
} as const satisfies Record<string, string>;

/** Ids passed to deprecatePatch(): changes whose old branch is gone. None since the baseline. */
export const DEPRECATED_PATCHES = {} as const satisfies Record<string, string>;

/** Every patch id the workflow code may record in a history. */
export const PATCH_IDS: readonly string[] = [...Object.values<string>(PATCHES), ...Object.values<string>(DEPRECATED_PATCHES)];
