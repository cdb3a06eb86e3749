// The welcome menu as pure functions: the words sent, and which option a customer's reply picks.
// A reply picks an option by its number alone ("2", "2."), or by the option's label or one of its
// keywords found as a whole phrase (any case) — when exactly one option is named. A number inside a
// sentence ("I have 2 questions") picks nothing: it is too often something else.
import type { MenuOption, WelcomeMenu } from './contracts/channels';

/** The welcome text, or the retry text, followed by one line per option. */
export function menuText(lead: string, menu: WelcomeMenu): string {
  return [lead, ...menu.options.map((option) => `${option.number}. ${option.label}`)].join('\n');
}

/** The option the reply picks, or undefined (nothing, or more than one option named). */
export function menuChoice(menu: WelcomeMenu, reply: string): MenuOption | undefined {
  const words = normalized(reply);
  const number = /^(\d{1,3})[.)]?$/.exec(words);
  if (number) return menu.options.find((option) => option.number === Number(number[1]));
  if (words.length === 0) return undefined;
  const named = menu.options.filter((option) => [option.label, ...option.keywords].some((phrase) => containsPhrase(words, normalized(phrase))));
  return named.length === 1 ? named[0] : undefined;
}

/** Lower case, one space between words, no surrounding space or closing punctuation. */
function normalized(text: string): string {
  return text
    .toLowerCase()
    .replace(/\s+/g, ' ')
    .trim()
    .replace(/[\s.!?]+$/, '');
}

/** Whether `phrase` occurs in `text` with no letter or digit right before or after it. */
function containsPhrase(text: string, phrase: string): boolean {
  if (phrase.length === 0) return false;
  const wordChar = /[\p{L}\p{N}]/u;
  for (let at = text.indexOf(phrase); at >= 0; at = text.indexOf(phrase, at + 1)) {
    const before = at === 0 ? '' : text[at - 1];
    const after = text[at + phrase.length] ?? '';
    if (!wordChar.test(before) && !wordChar.test(after)) return true;
  }
  return false;
}
