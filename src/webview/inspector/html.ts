import type { PageHtmlOptions } from '../pageHtml';
import { renderPageHtml } from '../pageHtml';

export function renderInspectorHtml(options: PageHtmlOptions): string {
  return renderPageHtml({ title: 'Webhook Deliveries', rootClass: 'inspector', images: false }, options);
}
