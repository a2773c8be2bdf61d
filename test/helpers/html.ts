// What a reader of a residents' page sees: its text without markup (the page keeps words and a
// paragraph's last characters on one line with <span class="w">, so a sentence is not one run
// of the HTML source).
const ENTITIES: Record<string, string> = { '&amp;': '&', '&lt;': '<', '&gt;': '>', '&quot;': '"', '&#39;': "'" };

export function pageText(html: string): string {
  return html.replace(/<[^>]*>/g, '').replace(/&(?:amp|lt|gt|quot|#39);/g, (entity) => ENTITIES[entity]!);
}
