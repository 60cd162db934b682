// Progressive enhancement only: every page works without this file.
// 1. Start GOV.UK Frontend's components (menu toggle, password reveal, error summary focus).
// 2. On "Log an enquiry", show possible duplicates while the form is filled in.
import { initAll } from '/static/vendor/govuk-frontend.min.js'

initAll()

const form = document.getElementById('enquiry-form')
const panel = document.getElementById('duplicates')

function value (name) {
  const field = form.elements.namedItem(name)
  return field && 'value' in field ? field.value.trim() : ''
}

function element (tag, className, text) {
  const node = document.createElement(tag)
  if (className) node.className = className
  if (text) node.textContent = text
  return node
}

function describe (row) {
  const item = element('li')
  const link = element('a', 'govuk-link', row.reference)
  link.href = '/enquiries/' + encodeURIComponent(row.reference)
  item.append(link)
  const where = row.location ? ', ' + row.location : ''
  item.append(document.createTextNode(': ' + row.constituent_name + where + ' (received ' +
    row.received_at.slice(0, 10) + ')'))
  return item
}

function show (found) {
  panel.replaceChildren()
  const groups = [
    ['Already raised in your ward', found.same_issue],
    ['This constituent’s earlier enquiries', found.same_person]
  ]
  if (!found.same_issue.length && !found.same_person.length && !found.hidden) return
  const box = element('div', 'govuk-inset-text')
  box.append(element('h2', 'govuk-heading-s', 'Possible duplicates'))
  for (const [title, rows] of groups) {
    if (!rows.length) continue
    box.append(element('p', 'govuk-body govuk-!-margin-bottom-1', title))
    const list = element('ul', 'govuk-list govuk-list--bullet')
    rows.forEach((row) => list.append(describe(row)))
    box.append(list)
  }
  if (found.hidden) {
    box.append(element('p', 'govuk-body', found.hidden + ' more in your ward not shared with you.'))
  }
  box.append(element('p', 'govuk-body-s', 'You can still log this enquiry and link it afterwards.'))
  panel.append(box)
}

let timer = null
let asked = ''

function check () {
  const params = new URLSearchParams()
  for (const name of ['member', 'category', 'location', 'postcode', 'name']) {
    const v = value(name)
    if (v) params.set(name, v)
  }
  const query = params.toString()
  if (query === asked || !params.has('category') && !params.has('postcode')) return
  asked = query
  fetch('/api/duplicates?' + query, { credentials: 'same-origin', headers: { Accept: 'application/json' } })
    .then((response) => response.ok ? response.json() : null)
    .then((found) => { if (found && asked === query) show(found) })
    .catch(() => {})
}

if (form && panel) {
  form.addEventListener('change', check)
  form.addEventListener('input', () => {
    clearTimeout(timer)
    timer = setTimeout(check, 400)
  })
}
