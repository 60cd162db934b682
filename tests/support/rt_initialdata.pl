# RT initialdata for crm-bridge's tests (scripts/rt5-start.sh inserts it at DB init).
#
# Provisions the account the bridge logs in as, with exactly the rights docs/rt.md lists
# (tests/test_rt_rights.py compares the two lists), so the tests prove that list is
# enough: the bridge is never RT's superuser. The test officer is RT's own 'root'.
# An auth token for the bridge is written to $RT_STATE_DIR/crm-bridge.token, so the
# tests can use token authentication too.
#
# Three more accounts show `crm-bridge connector check` what a missing right looks like:
# 'crm-bridge-unseen' holds no right at all, 'crm-bridge-partial' may see queues,
# tickets and custom fields but not open tickets or comment, 'crm-bridge-nocf' may open
# tickets but not set their custom fields. Their tokens are written to
# $RT_STATE_DIR/<name>.token.

@Users = (
    {
        Name         => 'crm-bridge',
        RealName     => 'crm-bridge (members enquiries)',
        EmailAddress => 'crm-bridge@localhost',
        Password     => 'bridge-password',
        Privileged   => 1,
    },
    {
        Name         => 'crm-bridge-unseen',
        EmailAddress => 'crm-bridge-unseen@localhost',
        Password     => 'unseen-password',
        Privileged   => 1,
    },
    {
        Name         => 'crm-bridge-partial',
        EmailAddress => 'crm-bridge-partial@localhost',
        Password     => 'partial-password',
        Privileged   => 1,
    },
    {
        Name         => 'crm-bridge-nocf',
        EmailAddress => 'crm-bridge-nocf@localhost',
        Password     => 'nocf-password',
        Privileged   => 1,
    },
);

# The list in docs/rt.md, "The bridge's RT account": day to day, making its auth token,
# and `crm-bridge connector setup` (the three Admin/Assign rights).
@ACL = (
    (map { { UserId => 'crm-bridge', Right => $_ } } qw(
        SeeQueue CreateTicket ShowTicket ShowTicketComments CommentOnTicket
        SeeCustomField SetInitialCustomField
        ManageAuthTokens
        AdminQueue AdminCustomField AssignCustomFields
    )),
    (map { { UserId => 'crm-bridge-partial', Right => $_ } } qw(
        SeeQueue ShowTicket SeeCustomField
    )),
    (map { { UserId => 'crm-bridge-nocf', Right => $_ } } qw(
        SeeQueue CreateTicket ShowTicket CommentOnTicket SeeCustomField
    )),
);

@Final = (
    sub {
        for my $name (qw(crm-bridge crm-bridge-unseen crm-bridge-partial crm-bridge-nocf)) {
            my $user = RT::User->new( RT->SystemUser );
            $user->Load($name);
            die "no $name user" unless $user->Id;
            # Made as RT's system user, so the token needs no right of the account itself
            # (the documented way, in RT's web pages, is tested by tests/test_rt_rights.py).
            my $token = RT::AuthToken->new( RT->SystemUser );
            my ( $id, $msg, $auth ) = $token->Create( Owner => $user->Id, Description => 'crm-bridge tests' );
            die "token for $name: $msg" unless $id;
            my $path = "$ENV{RT_STATE_DIR}/$name.token";
            open my $fh, '>', $path or die "$path: $!";
            print $fh "$auth\n";
            close $fh or die "$path: $!";
        }
    },
);

1;
