// Loaded at the top of <body> (a file, not inline, so the Content-Security-Policy can forbid
// inline scripts): tells GOV.UK Frontend's styles that JavaScript is running.
document.body.className += ' js-enabled' +
  ('noModule' in HTMLScriptElement.prototype ? ' govuk-frontend-supported' : '')
