// Progressive enhancement only: every page works without this file.
// Starts GOV.UK Frontend's components (menu toggle, password reveal, error summary focus).
// Pages that need more load their own module (duplicates.mjs on "Log an enquiry").
import { initAll } from '/static/vendor/govuk-frontend.min.js'

initAll()
