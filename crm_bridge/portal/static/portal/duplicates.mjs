// Progressive enhancement only: without it, the confirmation page lists the same matches.
// On "Log an enquiry", shows possible duplicates while the form is filled in: the draft is
// POSTed to /api/duplicates (personal data stays out of URLs) with the form's CSRF token.
const form = document.getElementById('enquiry-form')
const panel = document.getElementById('duplicates')
const FIELDS = ['member', 'category', 'description', 'location', 'name', 'postcode', 'address']

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

function describe (row, why) {
  const item = element('li')
  const link = element('a', 'govuk-link', row.reference)
  link.href = '/enquiries/' + encodeURIComponent(row.reference)
  item.append(link)
  const where = row.location ? ', ' + row.location : ''
  item.append(document.createTextNode(': ' + row.constituent_name + where + ' (' + why + ')'))
  return item
}

function show (found) {
  panel.replaceChildren()
  if (!found.same_issue.length && !found.same_person.length && !found.hidden) return
  const box = element('div', 'govuk-inset-text')
  box.append(element('h2', 'govuk-heading-s', 'Possible duplicates'))
  const groups = [
    ['Already raised', found.same_issue, (row) => row.reasons],
    ['This constituent’s earlier enquiries', found.same_person,
      (row) => 'received ' + row.received_at.slice(0, 10)]
  ]
  for (const [title, rows, why] of groups) {
    if (!rows.length) continue
    box.append(element('p', 'govuk-body govuk-!-margin-bottom-1', title))
    const list = element('ul', 'govuk-list govuk-list--bullet')
    rows.forEach((row) => list.append(describe(row, why(row))))
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
  const draft = {}
  for (const name of FIELDS) {
    const v = value(name)
    if (v) draft[name] = v
  }
  const body = JSON.stringify(draft)
  if (body === asked || (!draft.category && !draft.postcode)) return
  asked = body
  fetch('/api/duplicates', {
    method: 'POST',
    credentials: 'same-origin',
    headers: {
      Accept: 'application/json',
      'Content-Type': 'application/json',
      'X-CSRF-Token': value('csrf_token')
    },
    body
  })
    .then((response) => response.ok ? response.json() : null)
    .then((found) => { if (found && asked === body) show(found) })
    .catch(() => {})
}

if (form && panel) {
  form.addEventListener('change', check)
  form.addEventListener('input', () => {
    clearTimeout(timer)
    timer = setTimeout(check, 400)
  })
}
