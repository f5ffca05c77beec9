import type { PageHtmlOptions } from '../pageHtml';
import { renderPageHtml } from '../pageHtml';

export function renderRegistrationHtml(options: PageHtmlOptions): string {
  return renderPageHtml({ title: 'Webhook Registration', rootClass: 'registration', images: false }, options);
}
