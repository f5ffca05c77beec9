import type { PageHtmlOptions } from '../pageHtml';
import { renderPageHtml } from '../pageHtml';

export function renderResultsHtml(options: PageHtmlOptions): string {
  return renderPageHtml({ title: 'Dataverse Results', rootClass: 'app', images: true }, options);
}
